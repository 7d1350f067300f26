"""sft with packing: several examples share one row of cutoff_len tokens.

Each packed example keeps its own position ids (0, 1, 2, ...). With neat_packing the attention
mask holds the 1-based number of the example each token belongs to (0 for padding), which the
collator turns into a block-diagonal mask: no token attends to another example.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..example import Example
from .base import IGNORE_INDEX, Columns, empty_columns
from .supervised import SupervisedProcessor

MAX_SUBSEQ_INDEX = 2**32  # LLaMA-Factory's filler for "no media in this packed row"


def greedy_knapsack(lengths: list[int], capacity: int) -> list[list[int]]:
    """Fill rows largest-first: each row takes the longest remaining length that still fits.
    Lengths above the capacity fit nowhere and are left out."""
    remaining = sorted(length for length in lengths if length <= capacity)
    knapsacks = []
    while remaining:
        knapsack = []
        room = capacity
        while True:
            index = bisect.bisect(remaining, room) - 1
            if index < 0:
                break
            room -= remaining[index]
            knapsack.append(remaining.pop(index))
        knapsacks.append(knapsack)
    return knapsacks


class PackedSupervisedProcessor(SupervisedProcessor):
    """options.cutoff_len is the encoding length (one less than the row length, as in LLaMA-Factory)."""

    def __call__(self, batch: Sequence[Example | None]) -> Columns:
        cutoff = self.options.cutoff_len
        neat = self.options.neat_packing
        kept: list[tuple[Example, list[int], list[int]]] = []
        by_length: dict[int, list[int]] = defaultdict(list)
        for item in self.encode(batch):
            if item is None or len(item[1]) > cutoff:
                continue
            by_length[len(item[1])].append(len(kept))
            kept.append(item)
        names = (*self.columns, "position_ids") + (("packing_params",) if neat else ())
        columns = empty_columns(names)
        pad_id = self.encoder.tokenizer.pad_token_id
        for knapsack in greedy_knapsack([len(item[1]) for item in kept], cutoff):
            row = _Row(neat)
            for number, length in enumerate(knapsack):
                example, input_ids, labels = kept[by_length[length].pop()]
                row.add(number, example, input_ids, labels)
            row.pad(cutoff + 1, pad_id)
            for name, value in row.columns().items():
                columns[name].append(value)
        return columns


class _Row:
    def __init__(self, neat: bool) -> None:
        self.neat = neat
        self.input_ids: list[int] = []
        self.labels: list[int] = []
        self.attention_mask: list[int] = []
        self.position_ids: list[int] = []
        self.media: dict[str, list[Any]] = {"images": [], "videos": [], "audios": []}
        self.boundaries = [0]
        self.subseq: dict[str, list[int]] = {"images": [], "videos": [], "audios": []}
        self.padding = 0

    def add(self, number: int, example: Example, input_ids: list[int], labels: list[int]) -> None:
        self.input_ids += input_ids
        self.labels += labels
        self.position_ids += range(len(input_ids))
        self.attention_mask += [number + 1 if self.neat else 1] * len(input_ids)
        self.boundaries.append(self.boundaries[-1] + len(input_ids))
        for kind in self.media:
            items = getattr(example, kind)
            self.media[kind] += items
            self.subseq[kind] += [number] * len(items)

    def pad(self, length: int, pad_id: int) -> None:
        if len(self.input_ids) < length:
            self.padding = length - len(self.input_ids)
            self.input_ids += [pad_id] * self.padding
            self.position_ids += [0] * self.padding
            self.labels += [IGNORE_INDEX] * self.padding
            # padding is attended to without neat packing: flash-attention then skips unpadding
            self.attention_mask += [0 if self.neat else 1] * self.padding
            self.boundaries.append(self.boundaries[-1] + self.padding)

    def columns(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "labels": self.labels,
            "position_ids": self.position_ids,
            "images": self.media["images"] or None,
            "videos": self.media["videos"] or None,
            "audios": self.media["audios"] or None,
        }
        if self.neat:
            out["packing_params"] = {
                "sequence_boundaries": self.boundaries,
                "image_subseq_ids": self.subseq["images"] or [MAX_SUBSEQ_INDEX],
                "video_subseq_ids": self.subseq["videos"] or [MAX_SUBSEQ_INDEX],
                "audio_subseq_ids": self.subseq["audios"] or [MAX_SUBSEQ_INDEX],
                "right_padding_length": self.padding,
            }
        return out
