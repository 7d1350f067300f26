"""EndGuard: a resume at the last step trains nothing; a checkpoint past the end is an error."""

from __future__ import annotations

import pytest
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.train.callbacks import EndGuard, TrainingAtEnd
from transformers import TrainerControl, TrainerState, TrainingArguments


def _begin(global_step: int, max_steps: int) -> None:
    state = TrainerState(global_step=global_step, max_steps=max_steps)
    EndGuard().on_train_begin(TrainingArguments(output_dir="unused", use_cpu=True), state, TrainerControl())


def test_a_fresh_or_unfinished_run_trains() -> None:
    _begin(0, 12)
    _begin(11, 12)


def test_a_run_at_its_end_stops_before_a_step() -> None:
    with pytest.raises(TrainingAtEnd) as end:
        _begin(12, 12)
    assert end.value.step == 12


def test_a_checkpoint_past_the_end_is_an_error() -> None:
    with pytest.raises(UserError, match="at step 13, past the end of this config \\(12 steps\\)"):
        _begin(13, 12)
