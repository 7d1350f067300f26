"""How tokenized rows become model batches, per stage.

sft and pt train padding-free by default: a batch is one row holding its examples back to back,
each with its own position ids (0, 1, 2, ...), and no attention mask. Attention then stays within
each example: per example on SDPA (model.attention), as sequence boundaries in FlashAttention,
through a block-diagonal mask elsewhere; no compute is spent on padding. The loss is the same
mean over the same answer tokens as with padding; only the first label of each example is
masked, because in the flat row it would be predicted from the previous example's last token.

Everything else is padded by the data layer's collators (runtime.data.collator): evaluation,
which keeps one row per example for its metrics; pairwise rows (chosen first, then rejected); KTO
rows with their KL partners; and packed rows (packing: true), already cutoff_len long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

IGNORE_INDEX = -100
# Attention implementations that turn restarting position ids into per-example masks.
PADDING_FREE_ATTENTION = ("sdpa", "eager", "flex_attention", "flash_attention_2", "flash_attention_3")


def _labels_of(row: dict[str, Any]) -> list[int]:
    """pt rows have no labels: every token is learned."""
    return list(row["labels"]) if "labels" in row else list(row["input_ids"])


def flatten_rows(rows: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    """One padding-free row from several examples (pure: lists in, lists out)."""
    input_ids: list[int] = []
    labels: list[int] = []
    position_ids: list[int] = []
    for row in rows:
        ids = list(row["input_ids"])
        row_labels = _labels_of(row)
        input_ids += ids
        labels += [IGNORE_INDEX, *row_labels[1:]]
        position_ids += range(len(ids))
    return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}


def _tensors(batch: dict[str, Any]) -> dict[str, Any]:
    import torch

    return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}


@dataclass
class PaddingFreeCollator:
    """sft and pt training batches without padding (see the module docstring)."""

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        flat = flatten_rows(rows)
        return _tensors({key: [value] for key, value in flat.items()})


def supports_padding_free(model_config: Any) -> bool:
    """Decoder-only models whose attention builds masks from position ids."""
    if getattr(model_config, "is_encoder_decoder", False):
        return False
    return getattr(model_config, "_attn_implementation", None) in PADDING_FREE_ATTENTION
