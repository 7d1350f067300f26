"""The interface between the API (or the terminal chat) and an in-process generation engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from .sampling import SamplingParams

FinishReason = Literal["stop", "length", "error"]


@dataclass(frozen=True)
class GenerationRequest:
    prompt_ids: list[int]
    params: SamplingParams
    adapter: str | None = None  # a named LoRA adapter; None runs the base (with merged adapters)
    seed: int | None = None  # sampling draws from a generator of its own, seeded with this
    logprobs: int | None = None  # None: none; k: the chosen token's logprob and the k likeliest
    json_schema: str | None = None  # JSON text of a schema the answer must match (constrained decoding)


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class GenerationEvent:
    """New text of one sequence. The last event of a sequence has a finish_reason."""

    text: str
    completion_tokens: int
    finish_reason: FinishReason | None = None
    error: str | None = None
    logprobs: tuple[TokenLogprob, ...] = ()  # of the tokens generated since the last event


Emit = Callable[[GenerationEvent], None]


class SequenceHandle(Protocol):
    def cancel(self) -> None:
        """Stop generating for this sequence; no further events are emitted."""


class Engine(Protocol):
    """Generates for many sequences at once; `emit` is called from the engine's own thread."""

    adapters: tuple[str, ...]
    context_length: int

    def start(self) -> None: ...

    def close(self) -> None: ...

    def submit(self, request: GenerationRequest, emit: Emit) -> SequenceHandle: ...

    def json_matcher(self, schema: str) -> object:
        """A constraint for JSON matching `schema` (JSON text); ValueError when it cannot be built."""
        ...

    @property
    def healthy(self) -> bool: ...
