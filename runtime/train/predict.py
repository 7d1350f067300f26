"""predict_with_generate: generate an answer for every evaluation prompt, score it against the
reference answer (BLEU-4, ROUGE-1/2/L), and write generated_predictions.jsonl as LLaMA-Factory
does ({"prompt", "predict", "label"} per line, in dataset order).

Each rank generates for its share of the prompts; the main process gathers and writes them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..launch.torchrun import RankInfo
from .metrics import mean_similarity

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..config import TrainConfig

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "generated_predictions.jsonl"
IGNORE_INDEX = -100


def generation_kwargs(config: TrainConfig, tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    """LLaMA-Factory's generation settings: max_new_tokens wins over max_length; every extra
    special token ends an answer too."""
    kwargs: dict[str, Any] = {
        "do_sample": config.do_sample,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "top_k": config.top_k,
        "num_beams": config.generation_num_beams or config.num_beams,
        "repetition_penalty": config.repetition_penalty,
        "length_penalty": config.length_penalty,
    }
    if config.max_new_tokens > 0:
        kwargs["max_new_tokens"] = config.max_new_tokens
    else:
        kwargs["max_length"] = config.generation_max_length or config.max_length
    if not config.do_sample:
        for key in ("temperature", "top_p", "top_k"):
            kwargs.pop(key)
    extra = [
        tokenizer.convert_tokens_to_ids(str(token))
        for token in getattr(tokenizer, "extra_special_tokens", None) or []
    ]
    eos = [tokenizer.eos_token_id, *[i for i in extra if isinstance(i, int) and i >= 0]]
    kwargs["eos_token_id"] = list(dict.fromkeys(i for i in eos if i is not None))
    kwargs["pad_token_id"] = tokenizer.pad_token_id
    return kwargs


def _left_padded(prompts: list[list[int]], pad_id: int) -> tuple[list[list[int]], list[list[int]]]:
    width = max(len(p) for p in prompts)
    ids = [[pad_id] * (width - len(p)) + p for p in prompts]
    mask = [[0] * (width - len(p)) + [1] * len(p) for p in prompts]
    return ids, mask


def generate(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    dataset: Any,
    kwargs: dict[str, Any],
    batch_size: int,
    skip_special: bool,
) -> list[dict[str, str]]:
    """Records of every row of `dataset` (prompt ids in input_ids, answer ids in labels)."""
    import torch

    rank = RankInfo.from_env(os.environ)
    indices = list(range(rank.rank, len(dataset), rank.world_size))
    device = next(model.parameters()).device
    model.eval()
    records: list[tuple[int, dict[str, str]]] = []
    for start in range(0, len(indices), batch_size):
        chunk = indices[start : start + batch_size]
        rows = [dataset[i] for i in chunk]
        ids, mask = _left_padded([list(r["input_ids"]) for r in rows], int(tokenizer.pad_token_id))
        with torch.no_grad():
            output = model.generate(
                input_ids=torch.tensor(ids, device=device),
                attention_mask=torch.tensor(mask, device=device),
                use_cache=True,
                **kwargs,
            )
        answers = output[:, len(ids[0]) :].tolist()
        for index, row, answer in zip(chunk, rows, answers, strict=True):
            label = [t for t in row["labels"] if t != IGNORE_INDEX]
            records.append(
                (
                    index,
                    {
                        "prompt": str(tokenizer.decode(row["input_ids"], skip_special_tokens=False)),
                        "predict": str(tokenizer.decode(answer, skip_special_tokens=skip_special)),
                        "label": str(tokenizer.decode(label, skip_special_tokens=skip_special)),
                    },
                )
            )
    return [record for _, record in sorted(_gather(records), key=lambda item: item[0])]


def _gather(records: list[tuple[int, dict[str, str]]]) -> list[tuple[int, dict[str, str]]]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return records
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, records)
    return [record for part in parts for record in part]


def predict_with_generate(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    dataset: Any,
    config: TrainConfig,
    output_dir: str,
    prefix: str,
    write: bool,
) -> dict[str, float]:
    """Generate, score; write the predictions file when `write` (do_predict) on the main process."""
    started = time.perf_counter()
    records = generate(
        model, tokenizer, dataset, generation_kwargs(config, tokenizer), config.per_device_eval_batch_size,
        config.skip_special_tokens,
    )  # fmt: skip
    scores = mean_similarity([r["predict"] for r in records], [r["label"] for r in records])
    seconds = time.perf_counter() - started
    metrics = {f"{prefix}_{key}": value for key, value in scores.items()}
    metrics[f"{prefix}_runtime"] = round(seconds, 4)
    metrics[f"{prefix}_samples_per_second"] = round(len(records) / seconds, 3) if seconds else 0.0
    if write and RankInfo.from_env(os.environ).is_main:
        path = Path(output_dir) / PREDICTIONS_FILE
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        os.replace(tmp, path)
        log.info("wrote %d predictions to %s", len(records), path)
    return metrics
