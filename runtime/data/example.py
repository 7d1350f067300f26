"""The one internal form every dataset format is converted to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant", "system", "function", "observation"]


@dataclass
class Message:
    role: Role
    content: str


@dataclass
class Example:
    """prompt: alternating user|observation and assistant|function turns, odd length.
    response: one message for sft, [chosen, rejected] for ranking, empty for pretraining text."""

    prompt: list[Message]
    response: list[Message]
    system: str = ""
    tools: str = ""
    images: list[Any] = field(default_factory=list)
    videos: list[Any] = field(default_factory=list)
    audios: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class SkippedRow:
    dataset: str
    row: int
    reason: str

    def __str__(self) -> str:
        return f"dataset '{self.dataset}' row {self.row}: {self.reason}"
