"""Per-row sampling: each row of one batch follows its own settings."""

from __future__ import annotations

import pytest
import torch
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.serve.sampling import SamplingParams, params_from_config, sample_next_tokens


def _logits(rows: int = 4, vocab: int = 50, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(rows, vocab, generator=generator)


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(8, do_sample=False),
        SamplingParams(8, temperature=0.0),
        SamplingParams(8, temperature=1.5, top_k=1),
        SamplingParams(8, temperature=1.0, top_p=1e-6),
    ],
    ids=["do_sample-false", "temperature-0", "top_k-1", "tiny-top_p"],
)
def test_settings_that_leave_one_candidate_pick_the_argmax(params: SamplingParams) -> None:
    logits = _logits()
    for _ in range(5):
        assert torch.equal(sample_next_tokens(logits, [params] * 4, [[]] * 4), logits.argmax(-1))


def test_top_k_keeps_sampling_within_the_k_best() -> None:
    logits = _logits(rows=1, vocab=100)
    best3 = set(logits[0].topk(3).indices.tolist())
    params = [SamplingParams(8, temperature=5.0, top_k=3)]
    seen = {int(sample_next_tokens(logits, params, [[]])[0]) for _ in range(200)}
    assert seen <= best3 and len(seen) > 1


def test_top_p_keeps_the_smallest_set_reaching_the_mass() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    params = [SamplingParams(8, temperature=1.0, top_p=0.7)]  # 0.5 < 0.7 ≤ 0.8: tokens 0 and 1
    seen = {int(sample_next_tokens(logits, params, [[]])[0]) for _ in range(300)}
    assert seen == {0, 1}


def test_rows_of_one_batch_use_their_own_settings() -> None:
    logits = _logits(rows=2, vocab=200, seed=3)
    params = [SamplingParams(8, do_sample=False), SamplingParams(8, temperature=3.0, top_p=1.0)]
    firsts, seconds = set(), set()
    for _ in range(100):
        tokens = sample_next_tokens(logits, params, [[], []])
        firsts.add(int(tokens[0]))
        seconds.add(int(tokens[1]))
    assert firsts == {int(logits[0].argmax())}
    assert len(seconds) > 5


def test_repetition_penalty_demotes_seen_tokens() -> None:
    logits = torch.tensor([[2.0, 1.9, -1.0]])
    greedy = SamplingParams(8, do_sample=False)
    assert int(sample_next_tokens(logits.clone(), [greedy], [[0]])[0]) == 0
    penalised = SamplingParams(8, do_sample=False, repetition_penalty=1.2)
    assert int(sample_next_tokens(logits.clone(), [penalised], [[0]])[0]) == 1


def test_params_from_config_take_request_values_over_config_defaults() -> None:
    config = validate_config({"temperature": 0.5, "top_p": 0.9, "top_k": 20, "max_new_tokens": 64})
    params = params_from_config(config, temperature=None, top_p=0.3, max_new_tokens=10, stop=("x",))
    assert params == SamplingParams(
        max_new_tokens=10,
        temperature=0.5,
        top_p=0.3,
        top_k=20,
        do_sample=True,
        repetition_penalty=1.0,
        stop=("x",),
    )


def test_sampling_follows_the_distribution() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]])).repeat(4000, 1)
    tokens = sample_next_tokens(logits, [SamplingParams(8, temperature=1.0, top_p=1.0)] * 4000)
    frequencies = torch.bincount(tokens, minlength=3).float() / 4000
    assert torch.allclose(frequencies, torch.tensor([0.5, 0.3, 0.2]), atol=0.04), frequencies


def test_peaked_rows_sample_within_the_nucleus_of_a_large_vocabulary() -> None:
    logits = torch.full((1, 1000), -10.0)
    logits[0, [10, 500, 900]] = torch.tensor([5.0, 4.0, 3.0])
    params = [SamplingParams(8, temperature=1.0, top_p=0.9)]
    seen = {int(sample_next_tokens(logits, params)[0]) for _ in range(300)}
    assert seen == {10, 500}  # 0.67 + 0.24 reach 0.9; the third (0.09) is cut


def test_flat_rows_use_the_whole_nucleus_beyond_the_shortlist() -> None:
    logits = torch.zeros(2000, 1000)
    tokens = sample_next_tokens(logits, [SamplingParams(8, temperature=1.0, top_p=0.5)] * 2000)
    assert 64 < len(set(tokens.tolist())) <= 500
