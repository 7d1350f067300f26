"""The fetch init container's termination message, as status fields and the ModelFetched condition."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubefactory.operator.builders.model_fetch import FETCH_CONTAINER
from kubefactory.operator.status.model_fetch import fetch_outcome

REPORT = {
    "uri": "hf://Qwen/Qwen2.5-0.5B-Instruct",
    "path": "/kubefactory/model-cache/hf/models/Qwen/Qwen2.5-0.5B-Instruct/abc",
    "digest": "sha256:01",
    "files": 6,
    "bytes": 988097824,
    "seconds": 41.5,
    "revision": "abc",
    "downloaded": True,
    "transferred": 988097824,
}


def _pod(terminated: dict[str, Any] | None, last: bool = False) -> dict[str, Any]:
    state = {"terminated": terminated} if terminated else {"running": {}}
    status = {"name": FETCH_CONTAINER, ("lastState" if last else "state"): state}
    if last:
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    return {
        "spec": {"initContainers": [{"name": FETCH_CONTAINER}]},
        "status": {"initContainerStatuses": [status]},
    }


def test_a_pod_without_a_fetch_reports_nothing() -> None:
    assert fetch_outcome({"spec": {"containers": [{"name": "trainer"}]}, "status": {}}) is None


def test_a_running_fetch_is_in_progress() -> None:
    outcome = fetch_outcome(_pod(None))
    assert outcome is not None and outcome.want.status is None and outcome.want.reason == "Fetching"


def test_a_finished_fetch_reports_what_came_down() -> None:
    outcome = fetch_outcome(_pod({"exitCode": 0, "message": json.dumps(REPORT)}))
    assert outcome is not None and outcome.want.status is True
    assert outcome.fields == {
        k: REPORT[k] for k in ("uri", "digest", "files", "bytes", "seconds", "revision", "downloaded")
    }
    assert outcome.want.message == "hf://Qwen/Qwen2.5-0.5B-Instruct: 6 files, 988097824 bytes, downloaded"


@pytest.mark.parametrize(
    ("reason", "condition_reason", "failed"),
    [
        ("NotFound", "ModelNotFound", True),
        ("Unauthorized", "ModelUnauthorized", True),
        ("Gated", "ModelGated", True),
        ("OutOfSpace", "ModelCacheFull", False),
        ("Unreachable", "ModelUnreachable", False),
    ],
)
def test_a_failed_fetch_says_why(reason: str, condition_reason: str, failed: bool) -> None:
    message = json.dumps({"reason": reason, "message": "hf://org/x: what went wrong"})
    outcome = fetch_outcome(_pod({"exitCode": 1, "message": message}, last=True))
    assert outcome is not None and outcome.want.status is False
    assert (outcome.want.reason, outcome.want.message, outcome.failed) == (
        condition_reason,
        "hf://org/x: what went wrong",
        failed,
    )
    assert outcome.fields == {}


def test_a_crash_without_a_report_keeps_the_end_of_its_log() -> None:
    outcome = fetch_outcome(_pod({"exitCode": 137, "message": "Killed"}))
    assert outcome is not None and (outcome.want.reason, outcome.want.message) == (
        "ModelFetchFailed",
        "Killed",
    )
