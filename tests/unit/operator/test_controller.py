"""The controller carries a Plan out in a crash-safe order, and retries a decision that lost a race."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from kubefactory.operator.controller import Controller, replacing_patch
from kubefactory.operator.kube import ApiError
from kubefactory.operator.reconcile.plan import Event, Plan, Ref
from kubefactory.operator.settings import OperatorSettings


class FakeKube:
    """Records every write; ``conflict`` makes the status write fail as a stale resourceVersion would."""

    def __init__(self, conflict: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.conflict = conflict

    def merge_patch(self, ref: Ref, patch: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        if subresource == "status" and self.conflict:
            raise ApiError("PATCH", "/status", 409, '{"message": "the object has been modified"}')
        self.calls.append((f"patch {subresource or ref.kind}", patch))
        return {}

    def delete(self, ref: Ref, propagation: str = "Foreground") -> None:
        self.calls.append(("delete", ref.name))

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("apply", obj["metadata"]["name"]))
        return obj

    def event(self, regarding: dict[str, Any], type_: str, reason: str, message: str, now: datetime) -> None:
        self.calls.append(("event", reason))


BODY = {
    "apiVersion": "kubefactory.io/v1alpha1",
    "kind": "FineTuneJob",
    "metadata": {"name": "sft", "namespace": "team-a", "resourceVersion": "42"},
    "status": {"phase": "Running", "attempts": 1, "progress": {"step": 3}},
}
PLAN = Plan(
    status={"phase": "Restarting", "attempts": 2},
    apply=[
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sft-config", "namespace": "team-a"}}
    ],
    delete=[Ref("batch/v1", "Job", "team-a", "sft-a1")],
    suspend=("sft-a2", True),
    events=[Event("Warning", "Restarting", "attempt 1 failed")],
)


def test_status_first_then_deletions_applies_suspend_and_events() -> None:
    kube = FakeKube()
    again = Controller(kube, OperatorSettings()).execute(BODY, PLAN)  # type: ignore[arg-type]
    assert again is False
    assert [call[0] for call in kube.calls] == ["patch status", "delete", "apply", "patch Job", "event"]
    status_patch = kube.calls[0][1]
    assert status_patch == {
        "metadata": {"resourceVersion": "42"},  # rejected if the object changed since it was read
        "status": {"phase": "Restarting", "attempts": 2, "progress": None},
    }
    assert kube.calls[3][1] == {"spec": {"suspend": True}}


def test_a_stale_decision_is_not_acted_on() -> None:
    kube = FakeKube(conflict=True)
    assert Controller(kube, OperatorSettings()).execute(BODY, PLAN) is True  # type: ignore[arg-type]
    assert kube.calls == []  # nothing deleted or created on the strength of a stale read


def test_an_unchanged_status_is_not_written() -> None:
    kube = FakeKube()
    Controller(kube, OperatorSettings()).execute(BODY, Plan(status=dict(BODY["status"])))  # type: ignore[arg-type,call-overload]
    assert kube.calls == []


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"p": {"x": 1, "y": 2}}, {"p": {"x": 1}}, {"p": {"y": None}}),
        ({"c": [1, 2]}, {"c": [2]}, {"c": [2]}),
        ({}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ],
)
def test_replacing_patch(old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any]) -> None:
    assert replacing_patch(old, new) == patch


def test_a_written_status_reaches_the_metrics() -> None:
    from kubefactory.operator.metrics import Metrics

    metrics = Metrics()
    Controller(FakeKube(), OperatorSettings(), metrics=metrics).execute(BODY, PLAN)  # type: ignore[arg-type]
    value = metrics.registry.get_sample_value
    assert value("kubefactory_objects", {"kind": "FineTuneJob", "phase": "Restarting"}) == 1
    assert value("kubefactory_finetunejob_restarts_total", {"from_checkpoint": "false"}) == 1
    # a status write that lost its race changed nothing, so nothing is recorded
    lost = Metrics()
    Controller(FakeKube(conflict=True), OperatorSettings(), metrics=lost).execute(BODY, PLAN)  # type: ignore[arg-type]
    assert (
        lost.registry.get_sample_value("kubefactory_finetunejob_restarts_total", {"from_checkpoint": "false"})
        is None
    )
