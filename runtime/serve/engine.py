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


@dataclass(frozen=True)
class GenerationEvent:
    """New text of one sequence. The last event of a sequence has a finish_reason."""

    text: str
    completion_tokens: int
    finish_reason: FinishReason | None = None
    error: str | None = None


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

    @property
    def healthy(self) -> bool: ...
