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


def sample_next_tokens(logits: Any, params: Sequence[SamplingParams], histories: Sequence[Sequence[int]]) -> Any:
    """One next token per row of `logits` [batch, vocab], each row by its own params."""
    import torch

    logits = logits.float()
    _apply_repetition_penalty(logits, params, histories)
    greedy = torch.tensor([p.greedy for p in params], device=logits.device)
    picked = logits.argmax(dim=-1)
    if bool(greedy.all()):
        return picked
    temperature = torch.tensor([max(p.temperature, 1e-5) for p in params], device=logits.device)
    top_p = torch.tensor([p.top_p for p in params], device=logits.device)
    top_k = torch.tensor([p.top_k if p.top_k > 0 else logits.shape[-1] for p in params], device=logits.device)
    ordered, order = (logits / temperature[:, None]).sort(dim=-1, descending=True)
    probs = ordered.softmax(dim=-1)
    # keep the smallest prefix whose mass reaches top_p (the top token always survives), then top-k
    drop = (probs.cumsum(dim=-1) - probs) >= top_p[:, None]
    drop |= torch.arange(logits.shape[-1], device=logits.device)[None, :] >= top_k[:, None]
    ordered = ordered.masked_fill(drop, float("-inf"))
    choice = torch.multinomial(ordered.softmax(dim=-1), num_samples=1)
    sampled = order.gather(-1, choice).squeeze(-1)
    return torch.where(greedy, picked, sampled)


def _apply_repetition_penalty(logits: Any, params: Sequence[SamplingParams], histories: Sequence[Sequence[int]]) -> None:
    import torch

    for row, (param, history) in enumerate(zip(params, histories, strict=True)):
        if param.repetition_penalty == 1.0 or not history:
            continue
        seen = torch.tensor(sorted(set(history)), device=logits.device)
        scores = logits[row, seen]
        logits[row, seen] = torch.where(
            scores > 0, scores / param.repetition_penalty, scores * param.repetition_penalty
        )
