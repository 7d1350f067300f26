"""Finding the checkpoint to resume from."""

from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Written by the Trainer after the model, optimizer, scheduler and RNG states: a checkpoint
# without it was cut off while saving.
_STATE_FILE = "trainer_state.json"


def checkpoints(output_dir: str | Path) -> list[Path]:
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))]
    return [p for _, p in sorted(found)]


def is_complete(checkpoint: Path) -> bool:
    return (checkpoint / _STATE_FILE).is_file()


def latest_complete_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest checkpoint that was fully written; incomplete ones are skipped with a warning."""
    for checkpoint in reversed(checkpoints(output_dir)):
        if is_complete(checkpoint):
            return checkpoint
        log.warning("ignoring incomplete checkpoint %s (no %s: it was cut off while saving)", checkpoint, _STATE_FILE)
    return None
