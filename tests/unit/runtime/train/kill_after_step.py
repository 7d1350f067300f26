"""`kubefactory train` that SIGKILLs itself once training has passed a step (no cleanup, no save).

    python kill_after_step.py STEP CONFIG.yaml

Used by test_resume.py to cut a run off as a node failure or an OOM kill would.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from kubefactory.runtime.cli import main
from kubefactory.runtime.train import recipe
from transformers import TrainerCallback


class _KillAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def _with_killer(step: int) -> Any:
    original = recipe.callbacks_for

    def callbacks_for(config: Any, extra: Any = ()) -> Any:
        return [*original(config, extra), _KillAt(step)]

    return callbacks_for


if __name__ == "__main__":
    recipe.callbacks_for = _with_killer(int(sys.argv[1]))  # type: ignore[assignment]
    for module in ("sft", "pt", "rm", "dpo", "kto"):  # recipes imported callbacks_for by name
        stage = sys.modules.get(f"kubefactory.runtime.train.{module}")
        if stage is not None:
            stage.callbacks_for = recipe.callbacks_for  # type: ignore[attr-defined]
    raise SystemExit(main(["train", sys.argv[2]]))
