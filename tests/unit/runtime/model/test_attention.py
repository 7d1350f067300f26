"""Per-example SDPA for padding-free rows: the segments, and the same output as a block-diagonal mask."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from kubefactory.runtime.model.attention import VARLEN_SDPA, segment_bounds, use_varlen_sdpa


@pytest.mark.parametrize(
    ("positions", "bounds"),
    [
        ([0, 1, 2, 3], [(0, 4)]),
        ([0, 1, 2, 0, 1, 0], [(0, 3), (3, 5), (5, 6)]),
        ([5, 6, 0, 1], [(0, 2), (2, 4)]),
    ],
)
def test_segment_bounds(positions: list[int], bounds: list[tuple[int, int]]) -> None:
    assert segment_bounds(torch.tensor([positions])) == bounds


def test_per_example_attention_equals_the_masked_row(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    ids = torch.randint(3, 2000, (1, 23), generator=torch.Generator().manual_seed(1))
    positions = torch.tensor([list(range(10)) + list(range(6)) + list(range(7))])
    with torch.no_grad():
        masked = model(input_ids=ids, position_ids=positions, use_cache=False).logits  # block-diagonal mask
        assert use_varlen_sdpa(model) and model.config._attn_implementation == VARLEN_SDPA
        split = model(input_ids=ids, position_ids=positions, use_cache=False).logits
        padded = model(input_ids=ids[:, :10], attention_mask=torch.ones(1, 10, dtype=torch.long)).logits
    assert torch.allclose(split, masked, atol=1e-5)
    assert torch.allclose(split[:, :10], padded, atol=1e-5)  # batches with a mask take the standard path


def test_only_sdpa_models_switch(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM

    eager = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="eager")
    assert not use_varlen_sdpa(eager) and eager.config._attn_implementation == "eager"
