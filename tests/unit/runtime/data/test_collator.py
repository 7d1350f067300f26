"""Collators pad to a multiple of 8; neat packing keeps packed examples from attending to each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.data.collator import (
    KTOCollator,
    PaddingCollator,
    PairwiseCollator,
    block_diagonal_mask,
    collator_for,
)

X = -100


def test_rows_are_padded_to_a_multiple_of_eight() -> None:
    batch = PaddingCollator(pad_token_id=0)([
        {"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [X, 6, 7]},
        {"input_ids": [8] * 9, "attention_mask": [1] * 9, "labels": [8] * 9},
    ])  # fmt: skip
    assert batch["input_ids"].shape == (2, 16)
    assert batch["input_ids"][0].tolist() == [5, 6, 7] + [0] * 13
    assert batch["attention_mask"][0].tolist() == [1, 1, 1] + [0] * 13
    assert batch["labels"][0].tolist() == [X, 6, 7] + [X] * 13


def test_pretraining_rows_learn_every_real_token() -> None:
    batch = PaddingCollator(pad_token_id=0)([{"input_ids": [5, 6], "attention_mask": [1, 1]}])
    assert batch["labels"][0].tolist() == [5, 6] + [X] * 6


def test_pairwise_batch_is_chosen_rows_then_rejected_rows() -> None:
    rows = [
        {"chosen_input_ids": [1, 2], "chosen_attention_mask": [1, 1], "chosen_labels": [X, 2],
         "rejected_input_ids": [1, 3, 3], "rejected_attention_mask": [1, 1, 1], "rejected_labels": [X, 3, 3]},
        {"chosen_input_ids": [4], "chosen_attention_mask": [1], "chosen_labels": [4],
         "rejected_input_ids": [5], "rejected_attention_mask": [1], "rejected_labels": [5]},
    ]  # fmt: skip
    batch = PairwiseCollator(pad_token_id=0)(rows)
    assert batch["input_ids"].shape == (4, 8)
    assert [row[:3] for row in batch["input_ids"].tolist()] == [[1, 2, 0], [4, 0, 0], [1, 3, 3], [5, 0, 0]]


def test_kto_batch_carries_kl_rows_and_tags() -> None:
    rows = [{"input_ids": [1, 2], "attention_mask": [1, 1], "labels": [X, 2], "kl_input_ids": [1, 9, 9, 9],
             "kl_attention_mask": [1] * 4, "kl_labels": [X, 9, 9, 9], "kto_tags": False}]  # fmt: skip
    batch = KTOCollator(pad_token_id=0)(rows)
    assert batch["input_ids"].shape == batch["kl_input_ids"].shape == (1, 8)
    assert batch["kto_tags"].tolist() == [False]


def test_block_diagonal_mask() -> None:
    import torch

    mask = block_diagonal_mask(torch.tensor([[1, 1, 2, 2, 0]]), torch.float32)
    allowed = (mask[0, 0] == 0).int().tolist()
    assert allowed == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 0]]


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_packed_examples_see_only_themselves(tiny_model: Path, attention: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attention).eval()
    first, second = [5, 17, 300, 42, 9], [77, 8, 1000]
    row = {
        "input_ids": first + second,
        "attention_mask": [1] * len(first) + [2] * len(second),
        "labels": first + second,
        "position_ids": list(range(len(first))) + list(range(len(second))),
    }
    with torch.no_grad():
        alone = [model(input_ids=torch.tensor([ids])).logits[0] for ids in (first, second)]
        neat = PaddingCollator(pad_token_id=0, block_diagonal=True)([row])
        packed = model(**{k: neat[k] for k in ("input_ids", "attention_mask", "position_ids")}).logits[0]
        plain = PaddingCollator(pad_token_id=0)([{**row, "attention_mask": [1] * len(row["input_ids"])}])
        leaky = model(**{k: plain[k] for k in ("input_ids", "attention_mask", "position_ids")}).logits[0]
    n = len(first)
    assert torch.allclose(packed[:n], alone[0], atol=1e-5)
    assert torch.allclose(packed[n : n + len(second)], alone[1], atol=1e-5)
    assert not torch.allclose(
        leaky[n : n + len(second)], alone[1], atol=1e-5
    )  # without it, the second sees the first


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ({"stage": "dpo"}, PairwiseCollator),
        ({"stage": "kto"}, KTOCollator),
        ({"stage": "sft"}, PaddingCollator),
    ],
)
def test_collator_for_each_stage(values: dict[str, Any], kind: type) -> None:
    class Tok:
        pad_token_id = 3

    assert isinstance(collator_for(validate_config(values), Tok()), kind)
    if kind is PaddingCollator:
        assert collator_for(validate_config({"neat_packing": True}), Tok()).block_diagonal
