"""Padding-free batches: their rows, and the padded batches' loss and gradients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from kubefactory.runtime.data.collator import PaddingCollator
from kubefactory.runtime.train.batching import PaddingFreeCollator, flatten_rows, supports_padding_free

ROWS = [
    {"input_ids": [10, 11, 12], "attention_mask": [1, 1, 1], "labels": [-100, 11, 12]},
    {"input_ids": [20, 21], "attention_mask": [1, 1], "labels": [20, 21]},
]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            ROWS,
            {
                "input_ids": [10, 11, 12, 20, 21],
                "labels": [-100, 11, 12, -100, 21],
                "position_ids": [0, 1, 2, 0, 1],
            },
        ),
        (
            [{"input_ids": [5, 6, 7]}],
            {"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "position_ids": [0, 1, 2]},
        ),  # pt
    ],
)
def test_flatten_rows(rows: list[dict[str, Any]], expected: dict[str, list[int]]) -> None:
    assert flatten_rows(rows) == expected


@pytest.mark.parametrize("per_example_attention", [True, False])
def test_padding_free_loss_and_gradients_equal_padded_ones(
    tiny_model: Path, per_example_attention: bool
) -> None:
    """The default training batches change nothing but the compute spent on padding, with attention
    per example (the default on SDPA) or through transformers' block-diagonal mask."""
    from kubefactory.runtime.model.attention import use_varlen_sdpa
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    model.config.use_cache = False
    assert supports_padding_free(model.config)
    if per_example_attention:
        assert use_varlen_sdpa(model)
    generator = torch.Generator().manual_seed(0)
    rows = []
    for length in (9, 17, 5, 12):
        ids = torch.randint(3, 2000, (length,), generator=generator).tolist()
        rows.append(
            {
                "input_ids": ids,
                "attention_mask": [1] * length,
                "labels": [-100] * (length // 2) + ids[length // 2 :],
            }
        )

    def loss_and_grad(batch: dict[str, Any]) -> tuple[float, torch.Tensor]:
        model.zero_grad()
        items = int((batch["labels"][:, 1:] != -100).sum())
        loss = model(**batch, num_items_in_batch=items).loss
        loss.backward()
        return loss.item(), model.model.layers[0].mlp.down_proj.weight.grad.clone()

    padded_loss, padded_grad = loss_and_grad(PaddingCollator(pad_token_id=0)(rows))
    flat_loss, flat_grad = loss_and_grad(PaddingFreeCollator()(rows))
    assert flat_loss == pytest.approx(padded_loss, rel=1e-5)
    assert torch.allclose(flat_grad, padded_grad, rtol=1e-4, atol=1e-7)
