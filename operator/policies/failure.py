"""Failure policy: after an attempt fails, restart the whole group from its checkpoint, or fail for good.

- A pod the cluster ended (eviction, a lost node, preemption) is always retried.
- An exit code outside ``failurePolicy.retryableExitCodes`` (when that list is set) fails the job.
- Otherwise the job restarts, until ``failurePolicy.maxRestarts`` restarts have been used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..api.finetunejob import FailurePolicy
from ..api.finetunejob import TrainingReason as Reason
from ..status.attempt import PodFailure


@dataclass(frozen=True)
class Verdict:
    restart: bool
    reason: str  # CamelCase, for conditions and events
    message: str


def is_retryable(failure: PodFailure, policy: FailurePolicy) -> bool:
    if failure.disrupted or failure.exit_code is None:
        return True
    codes = policy.retryable_exit_codes
    return codes is None or failure.exit_code in codes


def judge(failures: Sequence[PodFailure], policy: FailurePolicy, attempt: int) -> Verdict:
    """What to do after ``attempt`` (1 for the first) failed with ``failures`` (at least one)."""
    what = "; ".join(failure.describe() for failure in failures[:4])
    fatal = [failure for failure in failures if not is_retryable(failure, policy)]
    if fatal:
        codes = ", ".join(str(code) for code in policy.retryable_exit_codes or [])
        return Verdict(
            False,
            Reason.NON_RETRYABLE_EXIT_CODE,
            f"attempt {attempt} failed: {fatal[0].describe()}; exit code {fatal[0].exit_code} is not "
            f"among failurePolicy.retryableExitCodes [{codes}]",
        )
    restarts = attempt - 1
    if restarts >= policy.max_restarts:
        return Verdict(
            False,
            Reason.RESTARTS_EXHAUSTED,
            f"attempt {attempt} failed: {what}; failurePolicy.maxRestarts ({policy.max_restarts}) "
            "restarts already used",
        )
    reason = (
        Reason.NODE_DISRUPTED if all(failure.disrupted for failure in failures) else Reason.ATTEMPT_FAILED
    )
    return Verdict(True, reason, f"attempt {attempt} failed: {what}")
