"""Success policy: every node's pod completed; the result's location is recorded."""

from __future__ import annotations

import pytest
from kubefactory.operator.policies.success import judge_success
from kubefactory.operator.status.attempt import AttemptState


@pytest.mark.parametrize(
    ("phase", "succeeded"),
    [("Succeeded", True), ("Running", False), ("Failed", False), ("Pending", False), ("Missing", False)],
)
def test_judge_success(phase: str, succeeded: bool) -> None:
    outcome = judge_success(AttemptState(phase), 2, "pvc://sft-output/sft")  # type: ignore[arg-type]
    assert outcome.succeeded is succeeded
    if succeeded:
        assert outcome.message == "attempt 2 completed on every node; the result is in pvc://sft-output/sft"
