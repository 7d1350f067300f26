"""Metrics: reconciles, errors and durations by kind; objects by phase; restarts; training progress."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.metrics import Metrics, phase_counts, progress_of, restart_origin
from prometheus_client import generate_latest


def body(kind: str, name: str, phase: str | None = None, **status: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "kubefactory.io/v1alpha1", "kind": kind}
    out["metadata"] = {"name": name, "namespace": "team-a"}
    out["spec"] = {}
    if phase or status:
        out["status"] = {**({"phase": phase} if phase else {}), **status}
    return out


def sample(metrics: Metrics, metric: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(metric, labels)


def test_a_reconcile_is_counted_and_timed_and_its_failure_too() -> None:
    metrics = Metrics()
    assert metrics.reconcile("Dataset", lambda: True) is True
    with pytest.raises(RuntimeError):
        metrics.reconcile("Dataset", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert sample(metrics, "kubefactory_reconciles_total", kind="Dataset") == 2
    assert sample(metrics, "kubefactory_reconcile_errors_total", kind="Dataset") == 1
    assert sample(metrics, "kubefactory_reconcile_duration_seconds_count", kind="Dataset") == 2
    assert sample(metrics, "kubefactory_reconciles_total", kind="FineTuneJob") is None


def test_objects_by_phase_follow_listings_and_status_writes() -> None:
    metrics = Metrics()
    metrics.listed(
        "Dataset", [body("Dataset", "a", "Ready"), body("Dataset", "b", "Ready"), body("Dataset", "c")]
    )
    metrics.listed("FineTuneJob", [body("FineTuneJob", "j", "Running")])
    assert sample(metrics, "kubefactory_objects", kind="Dataset", phase="Ready") == 2
    assert sample(metrics, "kubefactory_objects", kind="Dataset", phase="Unknown") == 1
    metrics.status_written(body("Dataset", "c"), {"phase": "Preparing"})
    assert sample(metrics, "kubefactory_objects", kind="Dataset", phase="Preparing") == 1
    assert sample(metrics, "kubefactory_objects", kind="Dataset", phase="Unknown") is None
    metrics.listed("Dataset", [body("Dataset", "a", "Ready")])  # b and c were deleted
    assert sample(metrics, "kubefactory_objects", kind="Dataset", phase="Ready") == 1
    assert sample(metrics, "kubefactory_objects", kind="Dataset", phase="Preparing") is None
    assert (
        sample(metrics, "kubefactory_objects", kind="FineTuneJob", phase="Running") == 1
    )  # other kinds stay


def test_phase_counts() -> None:
    assert phase_counts([("A", "x"), ("A", "x"), ("B", "x")]) == {("A", "x"): 2, ("B", "x"): 1}


# old phase, new status, spec.checkpointing → restarts counter label (None: not a restart)
RESTARTS = [
    ("Running", {"phase": "Restarting", "latestCheckpoint": "/out/checkpoint-10"}, {}, "true"),
    ("Running", {"phase": "Restarting"}, {}, "false"),
    (
        "Running",
        {"phase": "Restarting", "latestCheckpoint": "/out/checkpoint-10"},
        {"resume": False},
        "false",
    ),
    ("Restarting", {"phase": "Restarting"}, {}, None),  # still the same restart
    ("Running", {"phase": "Running"}, {}, None),
]


@pytest.mark.parametrize(("old", "new", "checkpointing", "wanted"), RESTARTS)
def test_restart_origin(
    old: str, new: dict[str, Any], checkpointing: dict[str, Any], wanted: str | None
) -> None:
    job = body("FineTuneJob", "j", old)
    job["spec"]["checkpointing"] = checkpointing
    assert restart_origin(job, new) == wanted


def test_restarts_are_counted_once_each() -> None:
    metrics = Metrics()
    job = body("FineTuneJob", "j", "Running")
    metrics.status_written(job, {"phase": "Restarting", "latestCheckpoint": "c"})
    metrics.status_written(body("FineTuneJob", "j", "Restarting"), {"phase": "Restarting"})
    assert sample(metrics, "kubefactory_finetunejob_restarts_total", from_checkpoint="true") == 1
    assert restart_origin(body("Dataset", "d", "Ready"), {"phase": "Restarting"}) is None


def test_training_progress_is_exported_per_job() -> None:
    metrics = Metrics()
    progress = {"step": 30, "totalSteps": 100, "loss": 0.5, "summary": "30/100 (30%)"}
    metrics.listed("FineTuneJob", [body("FineTuneJob", "j", "Running", progress=progress)])
    labels = {"namespace": "team-a", "name": "j"}
    assert sample(metrics, "kubefactory_finetunejob_progress_step", **labels) == 30
    assert sample(metrics, "kubefactory_finetunejob_progress_loss", **labels) == 0.5
    assert sample(metrics, "kubefactory_finetunejob_progress_epoch", **labels) is None
    metrics.listed("FineTuneJob", [])
    assert sample(metrics, "kubefactory_finetunejob_progress_step", **labels) is None
    assert b"kubefactory_finetunejob_progress_step" in generate_latest(metrics.registry)  # the family stays


def test_progress_of_ignores_what_is_not_a_number() -> None:
    job = body(
        "FineTuneJob", "j", "Running", progress={"step": 1, "summary": "1/2", "loss": None, "epoch": True}
    )
    assert progress_of(job) == {"step": 1.0}


def test_every_metric_is_documented() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[3] / "docs" / "operations.md").read_text()
    metrics = Metrics()
    metrics.listed("FineTuneJob", [body("FineTuneJob", "j", "Running", progress={"step": 1})])
    names = {family.name for family in metrics.registry.collect()}
    assert "kubefactory_objects" in names
    for name in names:
        documented = name in docs or (
            name.startswith("kubefactory_finetunejob_progress_")
            and name.removeprefix("kubefactory_finetunejob_progress_") in docs
        )
        assert documented, f"{name} is not in docs/operations.md"
