"""The stage table: stage name → recipe. New stages add a row, not an if-branch."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:
    from ..config import TrainConfig

Recipe = Callable[["TrainConfig"], None]

# stage → (module, function); imported when used, so that the table costs nothing to read
STAGES: dict[str, tuple[str, str]] = {
    "pt": (".pt", "run_pt"),
    "sft": (".sft", "run_sft"),
    "rm": (".rm", "run_rm"),
    "dpo": (".dpo", "run_dpo"),
    "kto": (".kto", "run_kto"),
}


def recipe_for(stage: str) -> Recipe:
    if stage not in STAGES:
        raise UserError(f"stage: '{stage}' is not supported; supported: {', '.join(STAGES)}")
    module, function = STAGES[stage]
    recipe: Recipe = getattr(importlib.import_module(module, __package__), function)
    return recipe
