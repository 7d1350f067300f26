"""The stage table: stage name → recipe. New stages add a row, not an if-branch."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import TrainConfig

from ..errors import UserError

Recipe = Callable[["TrainConfig"], None]


def _sft(config: TrainConfig) -> None:
    from .sft import run_sft

    run_sft(config)


STAGES: dict[str, Recipe] = {"sft": _sft}


def recipe_for(stage: str) -> Recipe:
    try:
        return STAGES[stage]
    except KeyError:
        raise UserError(f"stage: '{stage}' is not supported by this version yet; supported: {sorted(STAGES)}") from None
