"""What every processor shares: options, the label id that is not learned, the output columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..example import Example

IGNORE_INDEX = -100

Columns = dict[str, list[Any]]


@dataclass(frozen=True)
class ProcessOptions:
    """The tokenization settings of a config, in the form processors use them.

    cutoff_len is the length rows are cut to; with packing, LLaMA-Factory encodes examples to one
    token less and pads each packed row to cutoff_len (see `effective_options`).
    """

    cutoff_len: int
    train_on_prompt: bool = False
    mask_history: bool = False
    packing: bool = False
    neat_packing: bool = False
    # pt: the text appended to every document (the eos token's text; llama3 uses <|end_of_text|>)
    eos_text: str | None = None


class Processor(Protocol):
    """Tokenizes one batch of examples into output columns (None = a row that was skipped)."""

    columns: tuple[str, ...]

    def __call__(self, batch: Sequence[Example | None]) -> Columns: ...


_ONES: dict[int, list[int]] = {}


def ones(length: int) -> list[int]:
    """An all-ones attention mask. Rows of one length share one list (never change it in place),
    which also lets the Arrow writer recognise the column without reading it."""
    mask = _ONES.get(length)
    if mask is None:
        mask = _ONES[length] = [1] * length
    return mask


def all_ones(rows: list[Any]) -> bool:
    return all(row is _ONES.get(len(row)) for row in rows)


def media_column(items: list[Any]) -> list[Any] | None:
    """LLaMA-Factory stores rows without media as None, not as an empty list."""
    return items or None


def empty_columns(names: Sequence[str]) -> Columns:
    return {name: [] for name in names}
