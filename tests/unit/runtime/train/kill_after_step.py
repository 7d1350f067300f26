"""`kubefactory train` that SIGKILLs itself at a chosen point (no cleanup, no save).

    python kill_after_step.py WHEN CONFIG.yaml

WHEN is one of
    STEP          once training has passed step STEP (after that step's checkpoint, if it saves one)
    save:STEP     while saving checkpoint-STEP: its files are written, its completion marker is not
    record        after training, saving and evaluating, just before the completion record

Used by test_resume.py to cut a run off as a node failure or an OOM kill would. It also works as the
worker program under torchrun (`python -m torch.distributed.run ... kill_after_step.py WHEN CONFIG`):
every rank kills itself at the same point.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from kubefactory.runtime.cli import main
from kubefactory.runtime.train import completion, recipe
from transformers import TrainerCallback


def _die(*_: Any, **__: Any) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class _KillAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.global_step >= self.step:
            _die()


class _KillWhileSaving(TrainerCallback):
    """Runs before the checkpoint callback (see recipe.callbacks_for), so the marker is never written."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.global_step == self.step:
            _die()


def _with(killer: TrainerCallback, first: bool) -> Any:
    original = recipe.callbacks_for

    def callbacks_for(config: Any, extra: Any = ()) -> Any:
        return original(config, [killer, *extra]) if first else [*original(config, extra), killer]

    return callbacks_for


def _install(when: str) -> None:
    if when == "record":
        completion.write_record = _die  # type: ignore[assignment]
        return
    if when.startswith("save:"):
        recipe.callbacks_for = _with(_KillWhileSaving(int(when.removeprefix("save:"))), first=True)  # type: ignore[assignment]
    else:
        recipe.callbacks_for = _with(_KillAt(int(when)), first=False)  # type: ignore[assignment]
    for module in ("sft", "pt", "rm", "dpo", "kto"):  # recipes imported callbacks_for by name
        stage = sys.modules.get(f"kubefactory.runtime.train.{module}")
        if stage is not None:
            stage.callbacks_for = recipe.callbacks_for  # type: ignore[attr-defined]


if __name__ == "__main__":
    _install(sys.argv[1])
    raise SystemExit(main(["train", sys.argv[2]]))
