"""A tiny Qwen2-architecture model with a real byte-level BPE tokenizer, built locally.

Tests and the demo need a model without any hub download. The tokenizer is trained with
`tokenizers` on the given corpus, carries the special tokens the chat templates use, and a
Qwen-style chat template. Seeded: the same spec and corpus always write the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BUILDER_VERSION = "1"
COMPLETE_MARKER = ".kubefactory-complete"

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
    "<s>", "</s>", "[INST]", "[/INST]", "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>",
    "<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>",
    "<image>", "<video>", "<audio>", "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>",
]  # fmt: skip

# Renders like Qwen2.5's own template for conversations without tools.
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (loop.first and message['role'] == 'system') %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_FALLBACK_CORPUS = (
    "KubeFactory fine-tunes and serves large language models on Kubernetes.\n"
    "Hello! I am an AI assistant. How can I help you today?\n"
    "The quick brown fox jumps over the lazy dog. 0123456789\n"
)


@dataclass(frozen=True)
class TinyModelSpec:
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 0  # 0: 4 × hidden_size
    vocab_size: int = 2048
    max_position_embeddings: int = 4096
    # Larger than the usual 0.02: with frozen, tied embeddings that small, a LoRA adapter cannot
    # move the logits far enough to learn anything (the logit range is bounded by |embedding|).
    initializer_range: float = 0.1
    seed: int = 0


def default_cache_dir() -> Path:
    return Path(os.environ.get("KUBEFACTORY_CACHE", Path.home() / ".cache" / "kubefactory"))


def build_tiny_model(
    spec: TinyModelSpec, corpus: Sequence[str | Path] = (), output: str | Path | None = None
) -> Path:
    """Write (or find in the cache) the tiny model and return its folder."""
    texts = list(_corpus_texts(corpus)) or [_FALLBACK_CORPUS]
    key = _cache_key(spec, texts)
    target = Path(output) if output else default_cache_dir() / "models" / f"tiny-qwen2-{key[:16]}"
    marker = target / COMPLETE_MARKER
    if marker.exists() and marker.read_text(encoding="utf-8").strip() == key:
        return target
    staging = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _write_model(spec, texts, staging)
    (staging / COMPLETE_MARKER).write_text(key, encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # a half-written model never sits under the final name
    return target


def _cache_key(spec: TinyModelSpec, texts: list[str]) -> str:
    digest = hashlib.sha256(json.dumps([BUILDER_VERSION, asdict(spec)]).encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def _corpus_texts(paths: Sequence[str | Path]) -> Iterator[str]:
    for raw in paths:
        path = Path(raw)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix in (".json", ".jsonl"):
                yield "\n".join(_strings(_load_json(file)))
            elif file.suffix == ".txt":
                yield file.read_text(encoding="utf-8")


def _load_json(file: Path) -> Any:
    text = file.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _write_model(spec: TinyModelSpec, texts: list[str], folder: Path) -> None:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = _train_tokenizer(texts, spec.vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size or 4 * spec.hidden_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        initializer_range=spec.initializer_range,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(spec.seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id], pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
