"""One attempt's Job and pods → its state, and how each failed pod is described."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.status.attempt import PodFailure, observe_attempt, pod_failure


def test_no_job_is_missing() -> None:
    assert observe_attempt(None, [], 2).phase == "Missing"


@pytest.mark.parametrize(
    ("job", "pods", "phase", "running"),
    [
        ({}, [("Pending", {}), ("Pending", {})], "Pending", 0),
        ({}, [("Running", {}), ("Pending", {})], "Pending", 1),
        ({}, [("Running", {}), ("Running", {})], "Running", 2),
        ({}, [("Running", {}), ("Running", {"deleting": True})], "Pending", 1),
        ({"suspend": True}, [], "Suspended", 0),
        ({"condition": "Complete"}, [("Succeeded", {}), ("Succeeded", {})], "Succeeded", 0),
    ],
)
def test_phases(
    make_job: Any,
    make_pod: Any,
    job: dict[str, Any],
    pods: list[tuple[str, dict[str, Any]]],
    phase: str,
    running: int,
) -> None:
    made = [make_pod(rank=i, phase=p, **extra) for i, (p, extra) in enumerate(pods)]
    state = observe_attempt(make_job(**job), made, nodes=2)
    assert (state.phase, state.running) == (phase, running)


def test_success_records_the_completion_time(make_job: Any) -> None:
    assert observe_attempt(make_job(condition="Complete"), [], 2).completion_time == "2026-01-02T00:00:00Z"


def test_one_failed_pod_fails_the_attempt(make_job: Any, make_pod: Any) -> None:
    pods = [make_pod(rank=0), make_pod(rank=1, phase="Failed", exit_code=3, message="CUDA error")]
    state = observe_attempt(make_job(), pods, 2)
    assert state.phase == "Failed"
    assert state.failures == (PodFailure("sft-a1-1-x1", "1", 3, "Error", "CUDA error"),)
    assert (
        state.failures[0].describe() == "pod sft-a1-1-x1 (node rank 1) exited with code 3 (Error): CUDA error"
    )


def test_pods_being_deleted_are_not_counted_as_failures(make_job: Any, make_pod: Any) -> None:
    # the Job controller kills the others when one fails: their exit is a consequence, not a cause
    pods = [make_pod(rank=0, phase="Failed", exit_code=143, deleting=True), make_pod(rank=1)]
    assert observe_attempt(make_job(), pods, 2).phase == "Pending"


def test_a_failed_job_without_pods_still_fails(make_job: Any) -> None:
    state = observe_attempt(make_job(condition="Failed"), [], 2)
    assert state.phase == "Failed" and state.failures[0].disrupted
    assert state.failures[0].describe() == "the Job failed: Failed"


@pytest.mark.parametrize(
    ("pod", "failure"),
    [
        ({"exit_code": 137, "reason": "OOMKilled"}, ("OOMKilled", 137, False)),
        ({"pod_reason": "Evicted", "exit_code": 137}, ("Evicted", None, True)),
        (
            {
                "conditions": [
                    {
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": "DeletionByTaintManager",
                        "message": "node lost",
                    }
                ]
            },
            ("DeletionByTaintManager", None, True),
        ),
        ({"pod_reason": "UnexpectedAdmissionError"}, ("UnexpectedAdmissionError", None, True)),
        ({}, ("PodFailed", None, False)),
    ],
)
def test_failure_descriptions(
    make_pod: Any, pod: dict[str, Any], failure: tuple[str, int | None, bool]
) -> None:
    found = pod_failure(make_pod(rank=1, phase="Failed", **pod))
    assert (found.reason, found.exit_code, found.disrupted) == failure


def test_unschedulable_pods_say_why(make_job: Any, make_pod: Any) -> None:
    scheduled = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/10 nodes are available: 10 Insufficient nvidia.com/gpu.",
    }
    state = observe_attempt(make_job(), [make_pod(phase="Pending", conditions=[scheduled])], 1)
    assert state.unschedulable == "pod sft-a1-0-x0: 0/10 nodes are available: 10 Insufficient nvidia.com/gpu."
