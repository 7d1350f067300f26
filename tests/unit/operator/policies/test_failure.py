"""Failure policy: restart the group from its checkpoint, or fail for good."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.api.finetunejob import FailurePolicy
from kubefactory.operator.policies.failure import judge
from kubefactory.operator.status.attempt import PodFailure

CRASH = PodFailure("p-1", "1", 1, "Error", "boom")
OOM = PodFailure("p-0", "0", 137, "OOMKilled")
EVICTED = PodFailure("p-0", "0", None, "Evicted", disrupted=True)
BAD_ARGS = PodFailure("p-0", "0", 2, "Error")

# failures, policy, attempt → restart, reason
TABLE = [
    ([CRASH], {}, 1, True, "AttemptFailed"),
    ([CRASH], {"maxRestarts": 3}, 3, True, "AttemptFailed"),
    ([CRASH], {"maxRestarts": 3}, 4, False, "RestartsExhausted"),
    ([CRASH], {"maxRestarts": 0}, 1, False, "RestartsExhausted"),
    ([OOM], {"retryableExitCodes": [137]}, 1, True, "AttemptFailed"),
    ([BAD_ARGS], {"retryableExitCodes": [1, 137]}, 1, False, "NonRetryableExitCode"),
    ([EVICTED], {"retryableExitCodes": [1]}, 1, True, "NodeDisrupted"),
    ([EVICTED, BAD_ARGS], {"retryableExitCodes": [1]}, 1, False, "NonRetryableExitCode"),
]


@pytest.mark.parametrize(("failures", "policy", "attempt", "restart", "reason"), TABLE)
def test_judge(
    failures: list[PodFailure], policy: dict[str, Any], attempt: int, restart: bool, reason: str
) -> None:
    verdict = judge(failures, FailurePolicy.model_validate(policy), attempt)
    assert (verdict.restart, verdict.reason) == (restart, reason)
    assert verdict.message.startswith(f"attempt {attempt} failed: ")


def test_messages_say_what_failed_and_what_rule_applied() -> None:
    verdict = judge([BAD_ARGS], FailurePolicy(retryable_exit_codes=[1, 137]), 1)
    assert verdict.message == (
        "attempt 1 failed: pod p-0 (node rank 0) exited with code 2 (Error); exit code 2 is not among "
        "failurePolicy.retryableExitCodes [1, 137]"
    )
    exhausted = judge([CRASH], FailurePolicy(max_restarts=1), 2)
    assert exhausted.message == (
        "attempt 2 failed: pod p-1 (node rank 1) exited with code 1 (Error): boom; "
        "failurePolicy.maxRestarts (1) restarts already used"
    )
