"""A Dataset's reconcile decisions: prepare once per spec, report what the prepare Job found."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from kubefactory.operator.api.dataset import DatasetSpec, DatasetStatus
from kubefactory.operator.builders.prepare_job import spec_hash
from kubefactory.operator.reconcile.dataset_plan import DatasetObservation, plan_dataset, report_fields
from kubefactory.operator.reconcile.plan import Plan, Ref
from kubefactory.operator.settings import OperatorSettings

REPORT = {
    "rows": 12,
    "kept": 10,
    "skipped": 2,
    "skipReasons": [{"reason": "sft needs exactly one answer", "count": 2, "example": "row 3"}],
    "sizeBytes": 2048,
    "fingerprint": "sha256:abc",
    "file": "data.jsonl",
}


@pytest.fixture
def dataset(make_dataset: Any) -> dict[str, Any]:
    return make_dataset(phase=None)


@pytest.fixture
def job_name(dataset: dict[str, Any]) -> str:
    return f"identity-prepare-{spec_hash(DatasetSpec.model_validate(dataset['spec']))[:8]}"


@pytest.fixture
def decide(settings: OperatorSettings, now: datetime) -> Any:
    def run(body: dict[str, Any], jobs: list[dict[str, Any]] = (), pods: list[dict[str, Any]] = ()) -> Plan:  # type: ignore[assignment]
        return plan_dataset(DatasetObservation(body, list(jobs), list(pods), now), settings)

    return run


def prepare_pod(
    job: str, phase: str, exit_code: int | None = None, report: dict[str, Any] | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if exit_code is not None:
        terminated: dict[str, Any] = {
            "exitCode": exit_code,
            "reason": "Completed" if exit_code == 0 else "Error",
        }
        if report is not None:
            terminated["message"] = json.dumps(report)
        status["containerStatuses"] = [{"name": "prepare", "state": {"terminated": terminated}}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{job}-p", "labels": {"job-name": job}},
        "status": status,
    }


def ready(plan: Plan) -> tuple[str, str, str]:
    assert plan.status is not None
    found = plan.status["conditions"][0]
    return found["status"], found["reason"], found["message"]


def test_a_new_dataset_gets_its_claim_and_job(decide: Any, dataset: dict[str, Any], job_name: str) -> None:
    plan = decide(dataset)
    assert [f"{o['kind']}/{o['metadata']['name']}" for o in plan.apply] == [
        "PersistentVolumeClaim/identity-data",
        f"Job/{job_name}",
    ]
    assert plan.status is not None and plan.status["phase"] == "Pending"
    assert [e.reason for e in plan.events] == ["PrepareJobCreated", "Pending"]


def test_a_running_pod_is_preparing(
    decide: Any, dataset: dict[str, Any], make_job: Any, job_name: str
) -> None:
    plan = decide(
        dataset, [make_job(name=job_name, component="dataset-prepare")], [prepare_pod(job_name, "Running")]
    )
    assert plan.status is not None and plan.status["phase"] == "Preparing"
    assert ready(plan) == ("False", "Preparing", f"Job {job_name} is preparing the data")
    assert [o["kind"] for o in plan.apply] == ["PersistentVolumeClaim"]  # the Job exists


def test_the_report_makes_it_ready(
    decide: Any, dataset: dict[str, Any], make_job: Any, job_name: str
) -> None:
    job = make_job(name=job_name, condition="Complete", component="dataset-prepare")
    plan = decide(dataset, [job], [prepare_pod(job_name, "Succeeded", 0, REPORT)])
    assert plan.status is not None
    digest = spec_hash(DatasetSpec.model_validate(dataset["spec"]))
    assert {k: v for k, v in plan.status.items() if k != "conditions"} == {
        "phase": "Ready",
        "observedGeneration": 1,
        "samples": {"kept": 10, "skipped": 2},
        "skipReasons": [{"reason": "sft needs exactly one answer", "count": 2, "example": "row 3"}],
        "sizeBytes": 2048,
        "fingerprint": "sha256:abc",
        "location": f"pvc://identity-data/{digest}",
        "preparedTime": "2026-01-02T00:00:00Z",
    }
    assert ready(plan) == (
        "True",
        "Prepared",
        "kept 10 of 12 samples (2 skipped: 2× sft needs exactly one answer)",
    )
    DatasetStatus.model_validate(plan.status)  # fits the CRD's schema


def test_bad_data_fails_with_the_reasons(
    decide: Any, dataset: dict[str, Any], make_job: Any, job_name: str
) -> None:
    report = {
        **REPORT,
        "kept": 0,
        "skipped": 12,
        "error": "dataset 'identity': no valid samples among 12 rows",
    }
    job = make_job(name=job_name, condition="Failed", component="dataset-prepare")
    plan = decide(dataset, [job], [prepare_pod(job_name, "Failed", 1, report)])
    assert plan.status is not None and plan.status["phase"] == "Failed"
    assert plan.status["samples"] == {"kept": 0, "skipped": 12}
    status, reason, message = ready(plan)
    assert (status, reason) == ("False", "PreparationFailed")
    assert message.startswith("dataset 'identity': no valid samples among 12 rows")
    assert [e.type for e in plan.events] == ["Warning"]


def test_a_crash_without_report_says_how_the_pod_ended(
    decide: Any, dataset: dict[str, Any], make_job: Any, job_name: str
) -> None:
    job = make_job(name=job_name, condition="Failed", component="dataset-prepare")
    plan = decide(dataset, [job], [prepare_pod(job_name, "Failed", 137)])
    assert ready(plan)[2] == f"pod {job_name}-p exited with code 137 (Error)"


def test_success_without_a_report_is_a_failure(
    decide: Any, dataset: dict[str, Any], make_job: Any, job_name: str
) -> None:
    job = make_job(name=job_name, condition="Complete", component="dataset-prepare")
    plan = decide(dataset, [job], [prepare_pod(job_name, "Succeeded", 0)])
    assert ready(plan) == (
        "False",
        "PreparationFailed",
        "the prepare Job succeeded but left no report in its termination message",
    )


def test_settled_for_a_generation_means_never_prepared_twice(
    decide: Any, make_dataset: Any, make_job: Any
) -> None:
    plan = decide(
        make_dataset(phase="Ready"), [make_job(name="identity-prepare-old", component="dataset-prepare")]
    )
    assert plan.status is None and plan.apply == []
    assert plan.delete == [Ref("batch/v1", "Job", "team-a", "identity-prepare-old")]  # a Job of an older spec


def test_a_new_spec_prepares_again(decide: Any, make_dataset: Any, make_job: Any) -> None:
    changed = make_dataset(phase="Ready", generation=2, observed=1, spec={"formatting": "sharegpt"})
    old = make_job(name="identity-prepare-old", condition="Complete", component="dataset-prepare")
    plan = decide(changed, [old])
    new_job = f"identity-prepare-{spec_hash(DatasetSpec.model_validate(changed['spec']))[:8]}"
    assert f"Job/{new_job}" in [f"{o['kind']}/{o['metadata']['name']}" for o in plan.apply]
    assert plan.delete == [Ref("batch/v1", "Job", "team-a", "identity-prepare-old")]
    assert (
        plan.status is not None
        and plan.status["phase"] == "Pending"
        and plan.status["observedGeneration"] == 2
    )
    assert "samples" not in plan.status  # the old numbers described the old data


def test_an_invalid_spec_fails(decide: Any, make_dataset: Any) -> None:
    body = make_dataset(phase=None, spec={"source": {"uri": "hf://x/y"}})  # configMap and uri both set
    plan = decide(body)
    assert plan.status is not None and plan.status["phase"] == "Failed"
    assert ready(plan)[:2] == ("False", "InvalidSpec")
    assert "set exactly one of uri, pvc or configMap" in ready(plan)[2]


@pytest.mark.parametrize(
    ("report", "fields"),
    [
        ({"kept": 3}, {"samples": {"kept": 3, "skipped": 0}}),
        ({"kept": -1, "sizeBytes": "big", "fingerprint": 7}, {}),
        (
            {"skipReasons": [{"reason": "x", "count": 1}, {"reason": 5, "count": 1}, "junk"]},
            {"skipReasons": [{"reason": "x", "count": 1}]},
        ),
    ],
)
def test_malformed_report_entries_are_left_out(report: dict[str, Any], fields: dict[str, Any]) -> None:
    assert report_fields(report) == fields
