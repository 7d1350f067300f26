"""Each template with an official chat template encodes conversations exactly as that template
does through `apply_chat_template`.

The Jinja below is written for these tests from each family's documented prompt format (no
model files are copied). Each family's tokenizer is the tiny model's BPE with the family's special
tokens added and a Qwen2/Llama-3 style pre-tokenizer, so that token boundaries behave as in the
real tokenizers (a newline run is one piece, however the text is split).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.data.example import Message
from kubefactory.runtime.data.templates import get_template
from kubefactory.runtime.data.templates.template import Turn
from kubefactory.runtime.data.templates.tokenizer_fix import fix_tokenizer

PRETOKENIZE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _chatml_with_default(system: str) -> str:
    return (
        "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
        + system
        + "<|im_end|>\n' }}{% endif %}"
        + CHATML
    )


QWEN3 = (
    "{%- set ns = namespace(last_user=-1) %}"
    "{%- for m in messages %}{%- if m['role'] == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}{%- endfor %}"
    "{%- for m in messages %}"
    "{%- if m['role'] == 'assistant' %}"
    "{%- set content = m['content'] %}{%- set reasoning = '' %}"
    "{%- if '</think>' in content %}"
    "{%- set reasoning = content.split('</think>')[0].split('<think>')[-1].strip('\n') %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\n') %}"
    "{%- endif %}"
    "{%- if loop.index0 > ns.last_user %}"
    "{{- '<|im_start|>assistant\n<think>\n' + reasoning + '\n</think>\n\n' + content + '<|im_end|>\n' }}"
    "{%- else %}{{- '<|im_start|>assistant\n' + content + '<|im_end|>\n' }}{%- endif %}"
    "{%- else %}{{- '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"
)

LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}"
    "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

LLAMA4 = (
    "{{ bos_token }}{% for m in messages %}"
    "{{ '<|header_start|>' + m['role'] + '<|header_end|>\n\n' + m['content'] | trim + '<|eot|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|header_start|>assistant<|header_end|>\n\n' }}{% endif %}"
)

# Mistral v0.3: the system prompt goes before the last user message.
MISTRAL = (
    "{%- if messages[0]['role'] == 'system' %}{%- set system = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"
    "{%- set ns = namespace(last_user=0) %}"
    "{%- for m in loop_messages %}{%- if m['role'] == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}{%- endfor %}"
    "{{- bos_token }}{%- for m in loop_messages %}"
    "{%- if m['role'] == 'user' %}"
    "{%- if system is defined and loop.index0 == ns.last_user %}{{- '[INST] ' + system + '\n\n' + m['content'] + '[/INST]' }}"
    "{%- else %}{{- '[INST] ' + m['content'] + '[/INST]' }}{%- endif %}"
    "{%- else %}{{- ' ' + m['content'] | trim + eos_token }}{%- endif %}"
    "{%- endfor %}"
)

# Gemma: roles user and model; a system prompt is written at the start of the first user turn.
GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set first = messages[0]['content'] + '\n\n' %}"
    "{% set loop_messages = messages[1:] %}{% else %}{% set first = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for m in loop_messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + (first if loop.first else '') + m['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)

PHI4 = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '<|im_sep|>' + m['content'] + '<|im_end|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}{% endif %}"
)


def _deepseek(strip_history_thoughts: bool) -> str:
    history = "m['content'].split('</think>')[-1].lstrip('\n') if not loop.last else m['content']"
    content = history if strip_history_thoughts else "m['content']"
    return (
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}{% endif %}"
        "{% for m in messages %}{% if m['role'] == 'user' %}{{ '<｜User｜>' + m['content'] }}"
        "{% elif m['role'] == 'assistant' %}{{ '<｜Assistant｜>' + ("
        + content
        + ") + eos_token }}{% endif %}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<｜Assistant｜>' }}{% endif %}"
    )


GLM4 = (
    "[gMASK]<sop>{% for m in messages %}"
    "{% if m['role'] == 'assistant' %}{{ '<|assistant|>\n' + m['content'] }}"
    "{% else %}{{ '<|' + m['role'] + '|>\n' + m['content'] }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)

COHERE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% set token = {'system': '<|SYSTEM_TOKEN|>', 'user': '<|USER_TOKEN|>', 'assistant': '<|CHATBOT_TOKEN|>'}[m['role']] %}"
    "{{ '<|START_OF_TURN_TOKEN|>' + token + m['content'] + '<|END_OF_TURN_TOKEN|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}"
)


# template → (Jinja, bos, eos, other special tokens, takes a system prompt)
FAMILIES: dict[str, tuple[str, str | None, str, tuple[str, ...], bool]] = {
    "chatml": (CHATML, None, "<|im_end|>", (), True),
    "qwen": (_chatml_with_default("You are Qwen, created by Alibaba Cloud. You are a helpful assistant."), None, "<|im_end|>", (), True),
    "qwen3": (QWEN3, None, "<|im_end|>", (), True),
    "qwen3_nothink": (CHATML, None, "<|im_end|>", (), True),
    "yi": (CHATML, None, "<|im_end|>", (), True),
    "smollm2": (_chatml_with_default("You are a helpful AI assistant named SmolLM, trained by Hugging Face."), None, "<|im_end|>", (), True),
    "llama3": (LLAMA3, "<|begin_of_text|>", "<|eot_id|>", ("<|eom_id|>",), True),
    "llama4": (LLAMA4, "<|begin_of_text|>", "<|eot|>", ("<|header_start|>", "<|header_end|>", "<|eom|>"), True),
    "mistral": (MISTRAL, "<s>", "</s>", (), True),
    "gemma": (GEMMA, "<bos>", "<eos>", (), False),
    "gemma2": (GEMMA, "<bos>", "<eos>", (), True),
    "gemma3": (GEMMA, "<bos>", "<eos>", (), True),
    "phi4": (PHI4, None, "<|im_end|>", ("<|im_sep|>",), True),
    "deepseek3": (_deepseek(False), "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", ("<｜User｜>", "<｜Assistant｜>"), True),
    "deepseekr1": (_deepseek(True), "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", ("<｜User｜>", "<｜Assistant｜>"), True),
    "glm4": (GLM4, None, "<|endoftext|>", ("[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"), True),
    "cohere": (COHERE, "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>",
               ("<|START_OF_TURN_TOKEN|>", "<|SYSTEM_TOKEN|>", "<|USER_TOKEN|>", "<|CHATBOT_TOKEN|>"), True),
}  # fmt: skip

SYSTEM = "You answer in one short sentence."
EXCHANGES = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("And of Italy?", "Rome is the capital of Italy."),
]
# A reasoning model's answer with its thought (deepseekr1 keeps thoughts in the final answer).
THOUGHT_ANSWER = "<think>\nItaly's capital: Rome.\n</think>\n\nRome is the capital of Italy."


def family_tokenizer(tiny_model: Path, name: str) -> Any:
    from tokenizers import Regex, pre_tokenizers
    from transformers import AutoTokenizer

    jinja, bos, eos, extra, _ = FAMILIES[name]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    named = {"eos_token": eos, **({"bos_token": bos} if bos else {})}
    tokenizer.add_special_tokens(
        {**named, "extra_special_tokens": list(extra)}, replace_extra_special_tokens=False
    )
    tokenizer.chat_template = jinja
    return tokenizer


def conversation(name: str, turns: int, with_system: bool) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM}] if with_system else []
    for question, answer in EXCHANGES[:turns]:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    if name == "deepseekr1":
        messages[-1]["content"] = THOUGHT_ANSWER
        if turns > 1:
            messages[-3]["content"] = "<think>\nFrance: Paris.\n</think>\n\n" + EXCHANGES[0][1]
    return messages


def encode(tokenizer: Any, turns: list[Turn]) -> list[int]:
    ids: list[int] = []
    for turn in turns:
        for piece in turn:
            ids += [piece] if isinstance(piece, int) else tokenizer.encode(piece, add_special_tokens=False)
    return ids


def official(tokenizer: Any, messages: list[dict[str, str]], generation: bool = False) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
    return list(tokenizer.encode(text, add_special_tokens=False))


CASES = [
    (name, turns, system)
    for name in FAMILIES
    for turns in (1, 2)
    for system in (False, True)
    if (not system or FAMILIES[name][4]) and not (name == "mistral" and system and turns > 1)
]


@pytest.mark.parametrize(
    ("name", "turns", "with_system"), CASES, ids=[f"{n}-{t}turn{'-system' if s else ''}" for n, t, s in CASES]
)
def test_encoding_equals_the_official_chat_template(
    tiny_model: Path, name: str, turns: int, with_system: bool
) -> None:
    tokenizer = family_tokenizer(tiny_model, name)
    template = get_template(name)
    fix_tokenizer(tokenizer, template)
    bound = template.bind(tokenizer)
    messages = conversation(name, turns, with_system)
    system = messages[0]["content"] if with_system else ""
    chat = [Message(m["role"], m["content"]) for m in messages if m["role"] != "system"]  # type: ignore[arg-type]

    prompt, response = bound.oneturn(chat, system)
    assert encode(tokenizer, [prompt, response]) == official(tokenizer, messages)
    assert encode(tokenizer, [prompt]) == official(tokenizer, messages[:-1], generation=True)
    if not template.reasoning:  # sft's turn-by-turn encoding is the same text
        pairs = bound.multiturn(chat, system)
        assert encode(tokenizer, [piece for pair in pairs for piece in pair]) == official(tokenizer, messages)


# Where LLaMA-Factory's slots (which we keep, for the same tokens) differ from the model's own format.
def test_zephyr_leaves_out_the_newline_after_each_eos(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.add_special_tokens(
        {"eos_token": "</s>", "extra_special_tokens": ["<|user|>", "<|assistant|>", "<|system|>"]}
    )
    bound = get_template("zephyr").bind(tokenizer)
    prompt, response = bound.oneturn([Message("user", "Hi"), Message("assistant", "Hello")], "Be nice.")
    text = tokenizer.decode(encode(tokenizer, [prompt, response]))
    # Zephyr's own template writes "</s>\n" after every message
    assert text == "<|system|>\nBe nice.</s><|user|>\nHi</s><|assistant|>\nHello</s>"


def test_llama2_writes_no_space_around_the_answer(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.add_special_tokens({"bos_token": "<s>", "eos_token": "</s>"})
    bound = get_template("llama2").bind(tokenizer)
    prompt, response = bound.oneturn([Message("user", "Hi"), Message("assistant", "Hello")], "Be nice.")
    # Meta's format is "<s>[INST] ... [/INST] Hello </s>": SentencePiece adds that space when the
    # answer is tokenized on its own, which is how LLaMA-Factory (and we) tokenize it.
    assert (
        tokenizer.decode(encode(tokenizer, [prompt, response]))
        == "<s>[INST] <<SYS>>\nBe nice.\n<</SYS>>\n\nHi [/INST]Hello</s>"
    )
