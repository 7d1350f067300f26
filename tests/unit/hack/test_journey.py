"""hack/journey.py's pure parts: what the demo prints while it waits."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if "hack" not in sys.modules:  # hack/ is not installed; the repo root must not shadow `operator`
    _hack = types.ModuleType("hack")
    _hack.__path__ = [str(REPO_ROOT / "hack")]
    sys.modules["hack"] = _hack
journey = importlib.import_module("hack.journey")

ROW = (
    "dataset.kubefactory.io/identity 91 alpaca Ready {age} | finetunejob.kubefactory.io/identity-lora "
    "Running {steps} (15%) pvc://models/tiny 2 1 {age} | modelserver.kubefactory.io/identity huggingface 0/1 45s"
)


@pytest.mark.parametrize(
    ("before", "after", "same"),
    [
        ({"age": "2m39s", "steps": "55/360"}, {"age": "2m42s", "steps": "55/360"}, True),
        ({"age": "59s", "steps": "55/360"}, {"age": "1m", "steps": "55/360"}, True),
        ({"age": "3h", "steps": "55/360"}, {"age": "3h1m", "steps": "55/360"}, True),
        ({"age": "2m39s", "steps": "55/360"}, {"age": "2m42s", "steps": "60/360"}, False),
    ],
)
def test_only_a_change_beyond_the_ages_is_printed_again(
    before: dict[str, str], after: dict[str, str], same: bool
) -> None:
    assert (journey.without_ages(ROW.format(**before)) == journey.without_ages(ROW.format(**after))) is same
    assert "91" in journey.without_ages(ROW.format(**before)), "a count is not an age"
