"""Pad a batch of tokenized rows; lengths are rounded up to a multiple of 8 for tensor cores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .processors.supervised import IGNORE_INDEX


@dataclass
class PaddingCollator:
    pad_token_id: int
    pad_to_multiple_of: int = 8
    label_pad_id: int = IGNORE_INDEX

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        longest = max(len(row["input_ids"]) for row in rows)
        width = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": [], "labels": []}
        for row in rows:
            pad = width - len(row["input_ids"])
            batch["input_ids"].append(row["input_ids"] + [self.pad_token_id] * pad)
            batch["attention_mask"].append([1] * len(row["input_ids"]) + [0] * pad)
            batch["labels"].append(row["labels"] + [self.label_pad_id] * pad)
        return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}
