"""A FineTuneJob's reconcile decisions, from first attempt to a sticky end, with no API server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml
from kubefactory.operator.reconcile.plan import Plan, Ref
from kubefactory.operator.reconcile.training_plan import TrainingObservation, plan_training
from kubefactory.operator.settings import OperatorSettings
from kubefactory.operator.status.conditions import timestamp

PROGRESS = json.dumps({"step": 20, "totalSteps": 100, "loss": 1.5, "latestCheckpoint": "checkpoint-20"})


@pytest.fixture
def decide(settings: OperatorSettings, now: datetime, make_dataset: Any) -> Any:
    def run(
        body: dict[str, Any],
        jobs: list[dict[str, Any]] = (),  # type: ignore[assignment]
        pods: list[dict[str, Any]] = (),  # type: ignore[assignment]
        datasets: dict[str, Any] | None = None,
        progress: str | None = None,
        at: datetime = now,
    ) -> Plan:
        found = {"identity": make_dataset()} if datasets is None else datasets
        return plan_training(TrainingObservation(body, found, list(jobs), list(pods), progress, at), settings)

    return run


def applied(plan: Plan) -> list[str]:
    return [f"{obj['kind']}/{obj['metadata']['name']}" for obj in plan.apply]


def condition(plan: Plan, type_: str) -> tuple[str, str, str]:
    assert plan.status is not None
    found = next(c for c in plan.status["conditions"] if c["type"] == type_)
    return found["status"], found["reason"], found["message"]


def events(plan: Plan) -> list[tuple[str, str]]:
    return [(event.type, event.reason) for event in plan.events]


def config_of(plan: Plan) -> dict[str, Any]:
    config_map = next(
        o for o in plan.apply if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "sft-config"
    )
    loaded: dict[str, Any] = yaml.safe_load(config_map["data"]["config.yaml"])
    return loaded


# --- before the first attempt ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset", "reason", "message"),
    [
        (None, "DatasetNotFound", "Dataset identity not found in namespace team-a"),
        ({"phase": "Preparing"}, "DatasetNotReady", "Dataset identity is Preparing, not Ready yet"),
        (
            {"phase": "Ready", "generation": 2, "observed": 1},
            "DatasetNotReady",
            "Dataset identity is Pending, not Ready yet",
        ),
        (
            {"phase": "Failed", "message": "no valid samples"},
            "DatasetFailed",
            "Dataset identity failed to prepare: no valid samples",
        ),
        (
            {"location": "s3://bucket/x"},
            "DatasetUnsupported",
            "Dataset identity is at s3://bucket/x; training reads pvc:// only",
        ),
    ],
)
def test_waits_for_its_datasets(
    decide: Any,
    make_finetunejob: Any,
    make_dataset: Any,
    dataset: dict[str, Any] | None,
    reason: str,
    message: str,
) -> None:
    found = {"identity": None if dataset is None else make_dataset(**dataset)}
    plan = decide(make_finetunejob(), datasets=found)
    assert plan.status is not None and plan.status["phase"] == "WaitingForDatasets"
    assert plan.status["attempts"] == 0 and "startTime" not in plan.status
    assert condition(plan, "DatasetsReady") == ("False", reason, message)
    assert plan.apply == [] and plan.delete == []
    assert events(plan) == [("Normal", "WaitingForDatasets")]


def test_first_attempt_creates_every_child(decide: Any, make_finetunejob: Any, now: datetime) -> None:
    plan = decide(make_finetunejob())
    assert applied(plan) == [
        "PersistentVolumeClaim/sft-output",
        "ServiceAccount/sft-trainer",
        "Role/sft-trainer",
        "RoleBinding/sft-trainer",
        "ConfigMap/sft-progress",
        "ConfigMap/sft-config",
        "Service/sft-workers",
        "Job/sft-a1",
    ]
    assert plan.apply[-1]["spec"]["suspend"] is False
    assert plan.status is not None
    assert (plan.status["phase"], plan.status["attempts"], plan.status["startTime"]) == (
        "Pending",
        1,
        timestamp(now),
    )
    assert plan.status["observedGeneration"] == 1
    assert condition(plan, "DatasetsReady") == ("True", "AllReady", "every Dataset is prepared")
    assert events(plan) == [("Normal", "AttemptCreated"), ("Normal", "Pending")]
    assert plan.events[0].message == "created Job sft-a1 (2 node(s) × 8 nvidia)"


def test_a_job_created_just_before_a_crash_is_adopted(
    decide: Any, make_finetunejob: Any, make_job: Any, make_pod: Any
) -> None:
    # the status never recorded attempt 1, but its Job exists: no second Job
    plan = decide(make_finetunejob(), jobs=[make_job(1)], pods=[make_pod(rank=0), make_pod(rank=1)])
    assert "Job/sft-a1" not in applied(plan) and plan.delete == []
    assert plan.status is not None and (plan.status["phase"], plan.status["attempts"]) == ("Running", 1)
    assert condition(plan, "Running") == ("True", "AllNodesRunning", "2 of 2 nodes running attempt 1")


def test_unschedulable_pods_say_why(decide: Any, make_finetunejob: Any, make_job: Any, make_pod: Any) -> None:
    scheduled = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/10 nodes are available: 10 Insufficient nvidia.com/gpu.",
    }
    pods = [make_pod(rank=0, phase="Pending", conditions=[scheduled])]
    plan = decide(make_finetunejob(status={"attempts": 1}), jobs=[make_job(1)], pods=pods)
    assert plan.status is not None and plan.status["phase"] == "Pending"
    assert condition(plan, "Running") == (
        "False",
        "Unschedulable",
        f"pod sft-a1-0-x0: {scheduled['message']}",
    )


# --- progress and success -------------------------------------------------------------------------


def test_progress_is_mirrored_and_the_checkpoint_recorded(
    decide: Any, make_finetunejob: Any, make_job: Any, make_pod: Any
) -> None:
    body = make_finetunejob(status={"attempts": 1, "phase": "Running"})
    plan = decide(body, jobs=[make_job(1)], pods=[make_pod(rank=0), make_pod(rank=1)], progress=PROGRESS)
    assert plan.status is not None
    assert plan.status["progress"] == {"step": 20, "totalSteps": 100, "loss": 1.5, "summary": "20/100 (20%)"}
    assert plan.status["latestCheckpoint"] == "pvc://sft-output/sft/checkpoint-20"
    assert config_of(plan)["resume_from_checkpoint"] == "/kubefactory/output/checkpoint-20"


def test_complete_job_succeeds_with_time_and_location(
    decide: Any, make_finetunejob: Any, make_job: Any
) -> None:
    plan = decide(
        make_finetunejob(status={"attempts": 1, "phase": "Running"}), jobs=[make_job(1, condition="Complete")]
    )
    assert plan.status is not None
    assert plan.status["phase"] == "Succeeded"
    assert plan.status["completionTime"] == "2026-01-02T00:00:00Z"
    assert plan.status["outputLocation"] == "pvc://sft-output/sft"
    assert condition(plan, "Succeeded")[:2] == ("True", "Completed")
    assert plan.apply == [] and plan.delete == []
    assert events(plan) == [("Normal", "Succeeded")]


# --- failures and restarts ------------------------------------------------------------------------


def test_a_failed_pod_restarts_the_group(
    decide: Any, make_finetunejob: Any, make_job: Any, make_pod: Any
) -> None:
    body = make_finetunejob(
        status={"attempts": 1, "phase": "Running", "latestCheckpoint": "pvc://sft-output/sft/checkpoint-20"}
    )
    pods = [make_pod(rank=0), make_pod(rank=1, phase="Failed", exit_code=1, message="NCCL timeout")]
    plan = decide(body, jobs=[make_job(1)], pods=pods)
    assert plan.status is not None
    assert (plan.status["phase"], plan.status["attempts"]) == ("Restarting", 2)  # recorded before the delete
    assert plan.delete == [Ref("batch/v1", "Job", "team-a", "sft-a1")]
    assert plan.apply == []  # nothing new until the old Job is gone
    status, reason, message = condition(plan, "Failed")
    assert (status, reason) == ("False", "AttemptFailed")
    assert message == (
        "attempt 1 failed: pod sft-a1-1-x1 (node rank 1) exited with code 1 (Error): NCCL timeout; "
        "restarting the whole group as attempt 2, from /kubefactory/output/checkpoint-20"
    )
    assert events(plan) == [("Warning", "Restarting")]


def test_the_next_attempt_waits_for_the_old_job_to_go(
    decide: Any, make_finetunejob: Any, make_job: Any
) -> None:
    body = make_finetunejob(status={"attempts": 2, "phase": "Restarting"})
    plan = decide(body, jobs=[make_job(1, condition="Failed", deleting=True)])
    assert "Job/sft-a2" not in applied(plan) and plan.delete == []
    assert plan.status is not None and plan.status["phase"] == "Restarting"


def test_the_next_attempt_resumes_from_the_recorded_checkpoint(decide: Any, make_finetunejob: Any) -> None:
    body = make_finetunejob(
        status={
            "attempts": 2,
            "phase": "Restarting",
            "latestCheckpoint": "pvc://sft-output/sft/checkpoint-20",
        }
    )
    plan = decide(body)
    assert applied(plan)[-1] == "Job/sft-a2"
    assert config_of(plan)["resume_from_checkpoint"] == "/kubefactory/output/checkpoint-20"
    env = {
        e["name"]: e.get("value") for e in plan.apply[-1]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["MASTER_ADDR"] == "sft-a2-0.sft-workers.team-a.svc"


def test_a_stray_job_of_another_attempt_is_deleted(
    decide: Any, make_finetunejob: Any, make_job: Any, make_pod: Any
) -> None:
    body = make_finetunejob(status={"attempts": 3, "phase": "Running"})
    plan = decide(
        body, jobs=[make_job(2), make_job(3)], pods=[make_pod(attempt=3, rank=0), make_pod(attempt=3, rank=1)]
    )
    assert plan.delete == [Ref("batch/v1", "Job", "team-a", "sft-a2")]


def test_exhausted_restarts_fail_for_good(
    decide: Any, make_finetunejob: Any, make_job: Any, make_pod: Any, now: datetime
) -> None:
    body = make_finetunejob({"failurePolicy": {"maxRestarts": 1}}, status={"attempts": 2, "phase": "Running"})
    plan = decide(
        body,
        jobs=[make_job(2)],
        pods=[make_pod(attempt=2, phase="Failed", exit_code=137, reason="OOMKilled")],
    )
    assert plan.status is not None
    assert (plan.status["phase"], plan.status["completionTime"]) == ("Failed", timestamp(now))
    status, reason, message = condition(plan, "Failed")
    assert (status, reason) == ("True", "RestartsExhausted")
    assert "exited with code 137 (OOMKilled); failurePolicy.maxRestarts (1) restarts already used" in message
    assert plan.delete == [] and plan.apply == []
    assert events(plan) == [("Warning", "Failed")]


def test_a_non_retryable_exit_code_fails_at_once(
    decide: Any, make_finetunejob: Any, make_job: Any, make_pod: Any
) -> None:
    body = make_finetunejob(
        {"failurePolicy": {"retryableExitCodes": [1]}}, status={"attempts": 1, "phase": "Running"}
    )
    plan = decide(body, jobs=[make_job(1)], pods=[make_pod(phase="Failed", exit_code=2)])
    assert plan.status is not None and plan.status["phase"] == "Failed"
    assert condition(plan, "Failed")[:2] == ("True", "NonRetryableExitCode")


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_terminal_phases_are_sticky(decide: Any, make_finetunejob: Any, phase: str) -> None:
    # whatever is (or is not) there, nothing is created, restarted or rewritten
    plan = decide(
        make_finetunejob(status={"phase": phase, "attempts": 2}), jobs=[], datasets={"identity": None}
    )
    assert plan == Plan()


# --- the spec ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"resources": {"accelerator": "intel"}},
            "spec.resources.accelerator: Input should be 'nvidia', 'amd', 'ascend' or 'cpu'",
        ),
        ({"resources": {"nodes": 0}}, "spec.resources.nodes: Input should be greater than or equal to 1"),
        ({"training": {"lora_rank": "many"}}, "spec.training.lora_rank:"),
    ],
)
def test_a_spec_the_operator_cannot_run_fails_with_the_field(
    decide: Any, make_finetunejob: Any, spec: dict[str, Any], message: str
) -> None:
    plan = decide(make_finetunejob(spec))
    assert plan.status is not None and plan.status["phase"] == "Failed"
    status, reason, text = condition(plan, "Failed")
    assert (status, reason) == ("True", "InvalidSpec") and message in text
    assert plan.apply == []


# --- suspend and queues ---------------------------------------------------------------------------------


def test_suspend_and_resume(decide: Any, make_finetunejob: Any, make_job: Any, make_pod: Any) -> None:
    running = [make_pod(rank=0), make_pod(rank=1)]
    plan = decide(
        make_finetunejob({"suspend": True}, status={"attempts": 1, "phase": "Running"}),
        jobs=[make_job(1)],
        pods=running,
    )
    assert plan.suspend == ("sft-a1", True)
    assert plan.status is not None and plan.status["phase"] == "Suspended"
    assert condition(plan, "Suspended")[:2] == ("True", "SuspendedBySpec")
    resumed = decide(
        make_finetunejob(status={"attempts": 1, "phase": "Suspended"}), jobs=[make_job(1, suspend=True)]
    )
    assert resumed.suspend == ("sft-a1", False)
    assert resumed.status is not None and resumed.status["phase"] == "Pending"


def test_kueue_jobs_are_created_suspended_and_then_left_to_kueue(
    decide: Any, make_finetunejob: Any, make_job: Any, make_pod: Any
) -> None:
    body = make_finetunejob({"scheduling": {"queueName": "gpu-team-a"}})
    plan = decide(body)
    job = plan.apply[-1]
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-team-a"
    waiting = decide(body, jobs=[make_job(1, suspend=True)])
    assert waiting.suspend is None
    assert waiting.status is not None and waiting.status["phase"] == "Pending"
    assert condition(waiting, "Suspended")[:2] == ("True", "WaitingForAdmission")
    admitted = decide(body, jobs=[make_job(1, suspend=False)], pods=[make_pod(rank=0), make_pod(rank=1)])
    assert admitted.suspend is None  # Kueue un-suspended it: the operator does not fight it
    assert admitted.status is not None and admitted.status["phase"] == "Running"


# --- steady state ---------------------------------------------------------------------------------------


def test_a_second_reconcile_changes_nothing(
    decide: Any, make_finetunejob: Any, make_job: Any, make_pod: Any, now: datetime
) -> None:
    jobs, pods = [make_job(1)], [make_pod(rank=0), make_pod(rank=1)]
    first = decide(make_finetunejob(), jobs=jobs, pods=pods, progress=PROGRESS)
    later = decide(
        make_finetunejob(status=first.status),
        jobs=jobs,
        pods=pods,
        progress=PROGRESS,
        at=now + timedelta(hours=1),
    )
    assert later.status == first.status  # no write, so no watch event, so no loop
    assert later.events == []
    assert applied(later) == applied(first)  # children are re-applied (drift is corrected), no Job added
