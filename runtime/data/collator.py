"""Pad batches of tokenized rows; lengths are rounded up to a multiple of 8 for tensor cores.

- PaddingCollator: sft / pt / generation rows. Rows without labels (pt) learn every real token.
  Packed rows bring position_ids; with block_diagonal (neat_packing) the attention mask, which
  then holds each token's 1-based example number, becomes a 4D block-diagonal causal mask, so
  no packed example attends to another.
- PairwiseCollator: the chosen rows of a batch, then the rejected rows (2n rows), as rm/dpo read them.
- KTOCollator: the rows and their KL rows, padded separately, plus kto_tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .processors.base import IGNORE_INDEX

if TYPE_CHECKING:
    import torch

    from ..config import TrainConfig


def padded_length(longest: int, multiple: int) -> int:
    return -(-longest // multiple) * multiple if multiple > 1 else longest


def block_diagonal_mask(sequence_ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[batch, 1, length, length] additive mask: 0 where a token may attend (same example,
    not padding, not in the future), the dtype's minimum elsewhere."""
    import torch

    length = sequence_ids.shape[-1]
    same = sequence_ids[:, None, :, None] == sequence_ids[:, None, None, :]
    real = (sequence_ids != 0)[:, None, None, :]
    causal = torch.tril(torch.ones(length, length, dtype=torch.bool, device=sequence_ids.device))
    allowed = same & real & causal
    mask = torch.zeros(allowed.shape, dtype=dtype, device=sequence_ids.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


@dataclass
class PaddingCollator:
    pad_token_id: int
    pad_to_multiple_of: int = 8
    label_pad_id: int = IGNORE_INDEX
    block_diagonal: bool = False  # neat_packing: turn sequence numbers into a 4D mask
    mask_dtype: Any = None  # torch dtype of the 4D mask (default float32)

    def pad_rows(self, rows: Sequence[dict[str, Any]]) -> dict[str, list[list[int]]]:
        width = padded_length(max(len(row["input_ids"]) for row in rows), self.pad_to_multiple_of)
        batch: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": [], "labels": []}
        has_positions = "position_ids" in rows[0]
        if has_positions:
            batch["position_ids"] = []
        for row in rows:
            ids = list(row["input_ids"])
            pad = width - len(ids)
            mask = list(row["attention_mask"]) if row.get("attention_mask") is not None else [1] * len(ids)
            labels = list(row["labels"]) if row.get("labels") is not None else ids  # pt: learn every token
            batch["input_ids"].append(ids + [self.pad_token_id] * pad)
            batch["attention_mask"].append(mask + [0] * pad)
            batch["labels"].append(labels + [self.label_pad_id] * pad)
            if has_positions:
                batch["position_ids"].append(list(row["position_ids"]) + [0] * pad)
        return batch

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        batch = {key: torch.tensor(value, dtype=torch.long) for key, value in self.pad_rows(rows).items()}
        if self.block_diagonal:
            batch["attention_mask"] = block_diagonal_mask(
                batch["attention_mask"], self.mask_dtype or torch.float32
            )
        return batch


def _side(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {
        "input_ids": row[f"{prefix}input_ids"],
        "attention_mask": row.get(f"{prefix}attention_mask"),
        "labels": row[f"{prefix}labels"],
    }


@dataclass
class PairwiseCollator:
    pad_token_id: int
    pad_to_multiple_of: int = 8

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        sides = [_side(row, "chosen_") for row in rows] + [_side(row, "rejected_") for row in rows]
        return PaddingCollator(self.pad_token_id, self.pad_to_multiple_of)(sides)


@dataclass
class KTOCollator:
    pad_token_id: int
    pad_to_multiple_of: int = 8

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        pad = PaddingCollator(self.pad_token_id, self.pad_to_multiple_of)
        batch = pad([_side(row, "") for row in rows])
        kl = pad([_side(row, "kl_") for row in rows])
        batch.update({f"kl_{key}": value for key, value in kl.items()})
        batch["kto_tags"] = torch.tensor([bool(row["kto_tags"]) for row in rows])
        return batch


def collator_for(config: TrainConfig, tokenizer: Any, mask_dtype: Any = None) -> Any:
    """The collator of a config's stage."""
    from .processors import kind_for

    pad_id = int(tokenizer.pad_token_id)
    kind = kind_for(config.stage)
    if kind == "pairwise":
        return PairwiseCollator(pad_id)
    if kind == "feedback":
        return KTOCollator(pad_id)
    return PaddingCollator(pad_id, block_diagonal=config.neat_packing, mask_dtype=mask_dtype)
