"""Run a training config in this process (launching under torchrun comes with multi-device support)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import TrainConfig

log = logging.getLogger(__name__)


def run_training(config: TrainConfig, config_path: str | None = None, overrides: Sequence[str] = ()) -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s|%(name)s] %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from .stages import recipe_for

    recipe_for(config.stage)(config)
