"""A Dataset's reconcile, as a pure function of what is observed.

Each spec gets one prepare Job (its name carries a hash of the spec); Jobs of earlier specs are
deleted. The result comes from the Job's pod termination message, a JSON report written by
``kubefactory dataset prepare``. Ready and Failed are settled for a generation: once recorded,
nothing runs again until the spec changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..api.dataset import DatasetCondition, DatasetReason, DatasetSpec, DatasetStatus
from ..api.dataset import PreparationPhase as Phase
from ..builders.layout import PREPARE_CONTAINER
from ..builders.prepare_job import data_claim, location, prepare_job_manifest, spec_hash
from ..naming import LABEL_COMPONENT, label_value, owner_of, prepare_job
from ..settings import OperatorSettings
from ..status.attempt import observe_attempt, pod_failure
from ..status.conditions import Want, merge_conditions, timestamp
from ..status.written import written
from .plan import Event, EventType, Plan, Reader, Ref, spec_problems

SETTLED = (Phase.READY, Phase.FAILED)
MAX_REASONS = 10


@dataclass(frozen=True)
class DatasetObservation:
    body: dict[str, Any]  # the Dataset as read
    jobs: list[dict[str, Any]]  # every prepare Job of this Dataset
    pods: list[dict[str, Any]]  # their pods
    now: datetime


def observe_dataset(read: Reader, body: dict[str, Any], now: datetime) -> DatasetObservation:
    """What a Dataset's decision depends on: its prepare Jobs and their pods."""
    meta = body["metadata"]
    selector = {owner_of(body).label: label_value(meta["name"]), LABEL_COMPONENT: "dataset-prepare"}
    jobs = read.list("batch/v1", "Job", meta["namespace"], selector)
    pods = read.list("v1", "Pod", meta["namespace"], selector)
    return DatasetObservation(body, jobs, pods, now)


def read_report(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The prepare command's JSON report, from the termination message of a finished pod."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") != PREPARE_CONTAINER:
                continue
            message = ((status.get("state") or {}).get("terminated") or {}).get("message")
            try:
                report = json.loads(message or "")
            except json.JSONDecodeError:
                continue
            if isinstance(report, dict):
                return report
    return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def report_fields(report: dict[str, Any]) -> dict[str, Any]:
    """Status fields a report supports; malformed entries are left out."""
    out: dict[str, Any] = {}
    kept, skipped = _count(report.get("kept")), _count(report.get("skipped"))
    if kept is not None:
        out["samples"] = {"kept": kept, "skipped": skipped or 0}
    reasons = []
    for item in report.get("skipReasons") or []:
        if (
            isinstance(item, dict)
            and isinstance(item.get("reason"), str)
            and _count(item.get("count")) is not None
        ):
            entry = {"reason": item["reason"][:1024], "count": item["count"]}
            if isinstance(item.get("example"), str):
                entry["example"] = item["example"][:1024]
            reasons.append(entry)
    if reasons:
        out["skipReasons"] = reasons[:MAX_REASONS]
    if (size := _count(report.get("sizeBytes"))) is not None:
        out["sizeBytes"] = size
    if isinstance(report.get("fingerprint"), str):
        out["fingerprint"] = report["fingerprint"][:256]
    return out


def _summary(fields: dict[str, Any]) -> str:
    samples = fields.get("samples")
    if not samples:
        return ""
    text = f"kept {samples['kept']} of {samples['kept'] + samples['skipped']} samples"
    if samples["skipped"]:
        top = "; ".join(f"{r['count']}× {r['reason']}" for r in fields.get("skipReasons", [])[:3])
        text += f" ({samples['skipped']} skipped: {top})" if top else f" ({samples['skipped']} skipped)"
    return text


def plan_dataset(observed: DatasetObservation, settings: OperatorSettings) -> Plan:
    body, now = observed.body, observed.now
    prior: dict[str, Any] = body.get("status") or {}
    generation = body["metadata"].get("generation")
    owner = owner_of(body)
    try:
        spec = DatasetSpec.model_validate(body.get("spec") or {})
    except ValidationError as err:
        return _settle(
            prior,
            generation,
            now,
            Phase.FAILED,
            Want(DatasetCondition.READY, False, DatasetReason.INVALID_SPEC, spec_problems(err)),
            {},
        )
    job_name = prepare_job(owner.name, spec_hash(spec))
    live = [job for job in observed.jobs if not (job.get("metadata") or {}).get("deletionTimestamp")]
    current = next((job for job in live if job["metadata"]["name"] == job_name), None)
    plan = Plan(delete=[Ref.of(job) for job in live if job is not current])
    if prior.get("phase") in SETTLED and prior.get("observedGeneration") == generation:
        return plan  # settled for this spec: never prepared twice

    pods = [
        pod
        for pod in observed.pods
        if (pod.get("metadata") or {}).get("labels", {}).get("job-name") == job_name
    ]
    plan.apply = [data_claim(owner, settings)]
    if current is None:
        plan.apply.append(prepare_job_manifest(owner, spec, settings))
        plan.events.append(
            Event("Normal", DatasetReason.PREPARE_JOB_CREATED, f"created Job {job_name} to prepare the data")
        )
    state = observe_attempt(current, pods, nodes=1)
    report = read_report(pods) if state.phase in ("Succeeded", "Failed") else None
    fields = report_fields(report) if report else {}
    if state.phase == "Succeeded" and report is not None and not report.get("error"):
        fields.update(location=location(owner, spec), preparedTime=state.completion_time or timestamp(now))
        want = Want(DatasetCondition.READY, True, DatasetReason.PREPARED, _summary(fields) or "prepared")
        phase = Phase.READY
    elif state.phase in ("Succeeded", "Failed"):
        detail = (report or {}).get("error") or (
            "; ".join(f.describe() for f in (pod_failure(p) for p in pods if _finished(p)))
            or "the prepare Job failed"
        )
        if state.phase == "Succeeded" and report is None:
            detail = "the prepare Job succeeded but left no report in its termination message"
        want = Want(
            DatasetCondition.READY,
            False,
            DatasetReason.PREPARATION_FAILED,
            " ".join(filter(None, [str(detail), _summary(fields)])),
        )
        phase = Phase.FAILED
    elif state.phase == "Running":
        message = f"Job {job_name} is preparing the data"
        want, phase = Want(DatasetCondition.READY, False, DatasetReason.PREPARING, message), Phase.PREPARING
    else:
        message = state.unschedulable or f"Job {job_name} is waiting for its pod"
        want, phase = Want(DatasetCondition.READY, False, DatasetReason.PENDING, message), Phase.PENDING
    settled = _settle(prior, generation, now, phase, want, fields)
    plan.status, plan.events = settled.status, plan.events + settled.events
    return plan


def _finished(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


def _settle(
    prior: dict[str, Any],
    generation: int | None,
    now: datetime,
    phase: str,
    want: Want,
    fields: dict[str, Any],
) -> Plan:
    status = written(
        DatasetStatus,
        {
            "phase": phase,
            "observedGeneration": generation,
            "conditions": merge_conditions(prior.get("conditions"), [want], now, generation),
            **fields,
        },
    )
    events = []
    if prior.get("phase") != phase:
        kind: EventType = "Warning" if phase == Phase.FAILED else "Normal"
        events.append(Event(kind, phase, want.message))
    return Plan(status=status, events=events)
