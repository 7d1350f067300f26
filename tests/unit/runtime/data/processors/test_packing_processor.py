"""Packing: greedy knapsack rows of cutoff_len, position ids per example, neat packing numbers."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.runtime.data.example import Example, Message
from kubefactory.runtime.data.processors import ProcessOptions, make_processor
from kubefactory.runtime.data.processors.encoder import PieceEncoder
from kubefactory.runtime.data.processors.packing import MAX_SUBSEQ_INDEX, greedy_knapsack
from kubefactory.runtime.data.processors.supervised import IGNORE_INDEX
from kubefactory.runtime.data.templates import get_template


@pytest.mark.parametrize(
    ("lengths", "capacity", "expected"),
    [
        ([5, 3, 8, 2], 10, [[8, 2], [5, 3]]),
        ([4, 4, 4], 8, [[4, 4], [4]]),
        ([11, 2], 10, [[2]]),  # too long for any row: left out
    ],
)
def test_greedy_knapsack(lengths: list[int], capacity: int, expected: list[list[int]]) -> None:
    assert greedy_knapsack(lengths, capacity) == expected


def examples() -> list[Example | None]:
    texts = [
        ("Hi", "Hello!"),
        ("What is the capital of France?", "Paris."),
        ("Count", "1 2 3 4 5 6 7 8 9 10"),
    ]
    return [
        Example([Message("user", q)], [Message("assistant", a)], images=["x.png"] if i == 1 else [])
        for i, (q, a) in enumerate(texts)
    ]


def run(tokenizer: Any, neat: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    template = get_template("chatml").bind(tokenizer)
    single = make_processor("supervised", template, PieceEncoder(tokenizer), ProcessOptions(127))(examples())
    packed = make_processor(
        "supervised", template, PieceEncoder(tokenizer), ProcessOptions(127, packing=True, neat_packing=neat)
    )(examples())
    return single, packed


def test_packed_rows_hold_every_example_with_its_own_positions(tokenizer: Any) -> None:
    single, packed = run(tokenizer, neat=False)
    assert all(len(row) == 128 for row in packed["input_ids"])
    joined = [t for row in packed["input_ids"] for t in row if t != tokenizer.pad_token_id]
    assert sorted(joined) == sorted(t for row in single["input_ids"] for t in row)
    positions = packed["position_ids"][0]
    starts = [i for i, p in enumerate(positions) if p == 0]
    lengths = sorted(len(r) for r in single["input_ids"])
    assert starts[:3] == [0, lengths[2], lengths[2] + lengths[1]]  # longest first, then the next that fits
    assert set(packed["attention_mask"][0]) == {1}  # padding is attended too without neat packing
    assert packed["labels"][0][-1] == IGNORE_INDEX
    assert packed["images"] == [["x.png"]]


def test_neat_packing_numbers_each_example(tokenizer: Any) -> None:
    _, packed = run(tokenizer, neat=True)
    mask = packed["attention_mask"][0]
    assert sorted(set(mask)) == [0, 1, 2, 3]
    params = packed["packing_params"][0]
    assert params["sequence_boundaries"][-1] == 128
    assert params["right_padding_length"] == mask.count(0)
    assert params["video_subseq_ids"] == [MAX_SUBSEQ_INDEX]
    assert params["image_subseq_ids"] != [MAX_SUBSEQ_INDEX]
