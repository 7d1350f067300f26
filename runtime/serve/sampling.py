"""Sampling settings per request, and one vectorised sampling step for a whole batch.

Every row of a batch may carry its own temperature, top-p and top-k, so the step works on
per-row tensors instead of calling a logits-processor chain per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import TrainConfig


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0: no top-k cut
    do_sample: bool = True
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return not self.do_sample or self.temperature <= 0


def params_from_config(config: TrainConfig, **overrides: Any) -> SamplingParams:
    """The config's generation keys, with request values (None means 'not given') on top."""
    values: dict[str, Any] = {
        "max_new_tokens": config.max_new_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "top_k": config.top_k,
        "do_sample": config.do_sample,
        "repetition_penalty": config.repetition_penalty,
    }
    values.update({key: value for key, value in overrides.items() if value is not None})
    return SamplingParams(**values)


def sample_next_tokens(
    logits: Any,
    params: Sequence[SamplingParams],
    histories: Sequence[Sequence[int]] | None = None,
    generators: Sequence[Any] | None = None,
) -> Any:
    """One next token per row of `logits` [batch, vocab], each row by its own params; `histories`
    (prompt + generated ids per row) are needed only for a repetition penalty; a row with a
    torch.Generator in `generators` draws its random number from it (seeded requests)."""
    import torch

    logits = logits.float()
    _apply_repetition_penalty(logits, params, histories)
    greedy = torch.tensor([p.greedy for p in params], device=logits.device)
    picked = logits.argmax(dim=-1)
    if bool(greedy.all()):
        return picked
    temperature = torch.tensor([max(p.temperature, 1e-5) for p in params], device=logits.device)
    scaled = logits / temperature[:, None]
    if any(p.top_p < 1 or p.top_k > 0 for p in params):
        candidates, ids = _nucleus(scaled, params)
        sampled = ids.gather(-1, _draw(candidates, generators)[:, None]).squeeze(-1)
    else:
        sampled = _draw(scaled, generators)
    return torch.where(greedy, picked, sampled)


_SHORTLIST = 64  # candidates examined before falling back to sorting the whole vocabulary


def _nucleus(scaled: Any, params: Sequence[SamplingParams]) -> tuple[Any, Any]:
    """Logits of the top-k ∩ top-p candidates (others -inf) and their token ids.

    Sorting the vocabulary for every row of every step costs as much as the forward pass of a
    small model, so the top few candidates are examined first; only when they hold less than
    top_p of the probability mass (flat distributions) is the whole vocabulary sorted. Exact either way.
    """
    import torch

    vocab = scaled.shape[-1]
    top_p = torch.tensor([p.top_p for p in params], device=scaled.device)
    top_k = torch.tensor([p.top_k if p.top_k > 0 else vocab for p in params], device=scaled.device)
    size = min(_SHORTLIST, vocab)
    values, ids = scaled.topk(size, dim=-1)
    probs = (values - scaled.logsumexp(dim=-1, keepdim=True)).exp()
    covered = (probs.sum(dim=-1) >= top_p) | (top_k <= size)
    if not bool(covered.all()):
        values, ids = scaled.sort(dim=-1, descending=True)
        probs = values.softmax(dim=-1)
    # keep the smallest prefix whose mass reaches top_p (the top token always survives), then top-k
    drop = (probs.cumsum(dim=-1) - probs) >= top_p[:, None]
    drop |= torch.arange(values.shape[-1], device=scaled.device)[None, :] >= top_k[:, None]
    return values.masked_fill(drop, float("-inf")), ids


def _draw(logits: Any, generators: Sequence[Any] | None = None) -> Any:
    """Sample one index per row from softmax(logits) by inverting its CDF with one uniform number
    per row (exact; random numbers for the whole vocabulary, as multinomial and Gumbel draw, cost
    more than a small model's forward pass)."""
    import torch

    cdf = logits.softmax(dim=-1).cumsum(dim=-1)
    if generators is None:
        uniform = torch.rand(cdf.shape[0], 1, device=cdf.device)
    else:  # drawn on the CPU, where a seeded generator gives the same numbers on every machine
        uniform = torch.cat([torch.rand(1, 1, generator=g) for g in generators]).to(cdf.device)
    uniform = uniform * cdf[:, -1:]
    return torch.searchsorted(cdf, uniform).clamp(max=cdf.shape[-1] - 1).squeeze(-1)


def _apply_repetition_penalty(
    logits: Any, params: Sequence[SamplingParams], histories: Sequence[Sequence[int]] | None
) -> None:
    import torch

    if histories is None:
        return
    for row, (param, history) in enumerate(zip(params, histories, strict=True)):
        if param.repetition_penalty == 1.0 or not history:
            continue
        seen = torch.tensor(sorted(set(history)), device=logits.device)
        scores = logits[row, seen]
        logits[row, seen] = torch.where(
            scores > 0, scores / param.repetition_penalty, scores * param.repetition_penalty
        )


def needs_history(params: Sequence[SamplingParams]) -> bool:
    """Whether sample_next_tokens needs the token histories (only for a repetition penalty)."""
    return any(p.repetition_penalty != 1.0 for p in params)
