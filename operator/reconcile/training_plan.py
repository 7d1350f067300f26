"""A FineTuneJob's reconcile, as a pure function of what is observed.

The attempt number is the larger of ``status.attempts`` and the highest attempt among the Jobs that
exist, so a Job created just before a crash is adopted rather than duplicated. A restart records
``attempts + 1`` in the status before the failed Job is deleted, and the next Job is created only
once no older Job is left: at any moment there is at most one set of children. Succeeded and
Failed are terminal and sticky: nothing is created or deleted for a terminal FineTuneJob.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from kubefactory.runtime.contract.names import PROGRESS_KEY
from pydantic import ValidationError

from ..api import GROUP_VERSION
from ..api.dataset import Dataset, DatasetCondition, PreparationPhase
from ..api.finetunejob import FineTuneJobSpec, FineTuneJobStatus
from ..api.finetunejob import TrainingCondition as Cond
from ..api.finetunejob import TrainingPhase as Phase
from ..api.finetunejob import TrainingReason as Reason
from ..builders.inputs import TrainingInputs
from ..builders.layout import OUTPUT_DIR
from ..builders.rendered_config import PreparedDataset
from ..builders.training_children import attempt_children, shared_children
from ..naming import LABEL_ATTEMPT, LABEL_COMPONENT, Owner, label_value, owner_of, training_names
from ..policies.failure import judge
from ..policies.success import judge_success
from ..policies.suspend import desired_suspend, suspended_by_queue
from ..profiles import UnknownAccelerator, profile_for
from ..settings import OperatorSettings
from ..status.attempt import AttemptState, observe_attempt
from ..status.conditions import Want, find, merge_conditions, timestamp
from ..status.progress import checkpoint_name, progress_status, read_record
from ..status.written import written
from .plan import Event, EventType, Plan, Reader, Ref, spec_problems

TERMINAL = (Phase.SUCCEEDED, Phase.FAILED)
WARNING_PHASES = (Phase.FAILED, Phase.RESTARTING)


@dataclass(frozen=True)
class TrainingObservation:
    body: dict[str, Any]  # the FineTuneJob as read
    datasets: dict[str, dict[str, Any] | None]  # every referenced Dataset by name; None: not found
    jobs: list[dict[str, Any]]  # every Job of this FineTuneJob
    pods: list[dict[str, Any]]  # every training pod of this FineTuneJob
    progress: str | None  # the progress record, as the trainer published it
    now: datetime


def dataset_names(spec: dict[str, Any]) -> list[str]:
    """Every Dataset a FineTuneJob spec names (read before the spec is validated)."""
    refs = [*(spec.get("datasets") or []), *(spec.get("evalDatasets") or [])]
    return [ref["name"] for ref in refs if isinstance(ref, dict) and isinstance(ref.get("name"), str)]


def observe_training(read: Reader, body: dict[str, Any], now: datetime) -> TrainingObservation:
    """What a FineTuneJob's decision depends on: its Datasets, Jobs, pods and progress record."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    datasets = {
        n: read.get(GROUP_VERSION, "Dataset", namespace, n) for n in dataset_names(body.get("spec") or {})
    }
    selector = {owner_of(body).label: label_value(name), LABEL_COMPONENT: "trainer"}
    jobs = read.list("batch/v1", "Job", namespace, selector)
    pods = read.list("v1", "Pod", namespace, selector)
    progress = read.get("v1", "ConfigMap", namespace, training_names(name).progress)
    record = ((progress or {}).get("data") or {}).get(PROGRESS_KEY)
    return TrainingObservation(body, datasets, jobs, pods, record, now)


@dataclass(frozen=True)
class DatasetProblem:
    reason: str
    message: str


# --- what is observed -----------------------------------------------------------------------------


def attempt_of(obj: dict[str, Any]) -> int:
    value = ((obj.get("metadata") or {}).get("labels") or {}).get(LABEL_ATTEMPT, "0")
    return int(value) if value.isdigit() else 0


def is_deleting(obj: dict[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def prepared_dataset(
    name: str, body: dict[str, Any] | None, namespace: str
) -> PreparedDataset | DatasetProblem:
    if body is None:
        return DatasetProblem(Reason.DATASET_NOT_FOUND, f"Dataset {name} not found in namespace {namespace}")
    try:
        dataset = Dataset.model_validate({**body, "status": None})
    except ValidationError:
        return DatasetProblem(Reason.DATASET_INVALID, f"Dataset {name} has an invalid spec")
    status = body.get("status") or {}
    current = status.get("observedGeneration") == body["metadata"].get("generation")
    phase = status.get("phase") if current else PreparationPhase.PENDING
    if phase == PreparationPhase.FAILED:
        ready = find(status.get("conditions"), DatasetCondition.READY) or {}
        detail = ready.get("message") or "see its status"
        return DatasetProblem(Reason.DATASET_FAILED, f"Dataset {name} failed to prepare: {detail}")
    if phase != PreparationPhase.READY:
        return DatasetProblem(
            Reason.DATASET_NOT_READY, f"Dataset {name} is {phase or 'Pending'}, not Ready yet"
        )
    scheme, _, rest = str(status.get("location") or "").partition("://")
    claim, _, folder = rest.partition("/")
    if scheme != "pvc" or not claim:
        where = status.get("location")
        return DatasetProblem(
            Reason.DATASET_UNSUPPORTED, f"Dataset {name} is at {where}; training reads pvc:// only"
        )
    return PreparedDataset(name, claim, folder, dataset.spec)


def resolve_datasets(
    spec: FineTuneJobSpec, found: dict[str, dict[str, Any] | None], namespace: str
) -> tuple[list[PreparedDataset], list[PreparedDataset], list[DatasetProblem]]:
    """The prepared training and evaluation Datasets, and a problem for each one that is not usable."""
    problems: list[DatasetProblem] = []
    groups: tuple[list[PreparedDataset], list[PreparedDataset]] = ([], [])
    for group, refs in zip(groups, (spec.datasets, spec.eval_datasets or []), strict=True):
        for ref in refs:
            result = prepared_dataset(ref.name, found.get(ref.name), namespace)
            if isinstance(result, DatasetProblem):
                problems.append(result)
            else:
                group.append(result)
    return groups[0], groups[1], problems


# --- the decision ----------------------------------------------------------------------------------


@dataclass
class Decision:
    """What the decision steps fill in, turned into a status and a Plan at the end."""

    phase: str
    attempt: int
    running: Want
    failed: Want | None = None
    completion_time: str | None = None
    output_location: str | None = None
    start: bool = False  # an attempt exists or is being created


def _failed_since_last(prior: dict[str, Any]) -> Want | None:
    """Keep the last restart's reason on the Failed condition (status False) until something replaces it."""
    old = find(prior.get("conditions"), Cond.FAILED)
    if old and old.get("status") == "False" and old.get("reason") not in (None, Reason.NO_FAILURE):
        return Want(Cond.FAILED, False, old["reason"], old.get("message", ""))
    return None


def _running_want(state: AttemptState, nodes: int, attempt: int, phase: str) -> Want:
    if phase == Phase.RUNNING:
        return Want(
            Cond.RUNNING,
            True,
            Reason.ALL_NODES_RUNNING,
            f"{nodes} of {nodes} nodes running attempt {attempt}",
        )
    if state.unschedulable:
        return Want(Cond.RUNNING, False, Reason.UNSCHEDULABLE, state.unschedulable)
    reason = Reason.RESTARTING if phase == Phase.RESTARTING else Reason.PODS_PENDING
    return Want(Cond.RUNNING, False, reason, f"{state.running} of {nodes} nodes running attempt {attempt}")


def decide_live(
    spec: FineTuneJobSpec, state: AttemptState, attempt: int, job_exists: bool, waiting_for_data: str | None
) -> Decision:
    """Phase of an attempt that has not ended: suspended, queued, waiting, pending or running."""
    nodes = spec.resources.nodes
    if spec.suspend:
        return Decision(
            Phase.SUSPENDED, attempt, Want(Cond.RUNNING, False, Reason.SUSPENDED, "spec.suspend is true")
        )
    if waiting_for_data is not None and not job_exists:
        return Decision(
            Phase.WAITING_FOR_DATASETS,
            attempt,
            Want(Cond.RUNNING, False, Reason.WAITING_FOR_DATASETS, waiting_for_data),
        )
    if state.phase == "Suspended" and suspended_by_queue(spec, True):
        message = f"the Job waits for Kueue to admit it from LocalQueue {spec.scheduling.queue_name}"
        return Decision(
            Phase.PENDING, attempt, Want(Cond.RUNNING, False, Reason.WAITING_FOR_ADMISSION, message)
        )
    phase = (
        Phase.RUNNING if state.phase == "Running" else (Phase.RESTARTING if attempt > 1 else Phase.PENDING)
    )
    return Decision(phase, attempt, _running_want(state, nodes, attempt, phase), start=True)


def decide_ended(
    spec: FineTuneJobSpec, state: AttemptState, inputs: TrainingInputs, now: datetime
) -> Decision:
    """A Succeeded or Failed attempt: succeed, restart the group, or fail for good."""
    attempt = inputs.attempt
    outcome = judge_success(state, attempt, inputs.output_location)
    if outcome.succeeded:
        done = Want(Cond.RUNNING, False, Reason.COMPLETED, outcome.message)
        return Decision(
            Phase.SUCCEEDED,
            attempt,
            done,
            completion_time=state.completion_time or timestamp(now),
            output_location=inputs.output_location,
            start=True,
        )
    verdict = judge(state.failures, spec.failure_policy, attempt)
    if verdict.restart:
        origin = f"from {inputs.resume_from}" if inputs.resume_from else "from the start"
        message = f"{verdict.message}; restarting the whole group as attempt {attempt + 1}, {origin}"
        return Decision(
            Phase.RESTARTING,
            attempt + 1,
            Want(Cond.RUNNING, False, Reason.RESTARTING, message),
            failed=Want(Cond.FAILED, False, verdict.reason, message),
            start=True,
        )
    return Decision(
        Phase.FAILED,
        attempt,
        Want(Cond.RUNNING, False, Reason.FAILED, verdict.message),
        failed=Want(Cond.FAILED, True, verdict.reason, verdict.message),
        completion_time=timestamp(now),
        start=True,
    )


def _conditions(
    prior: dict[str, Any], decision: Decision, datasets: Want, now: datetime, generation: int | None
) -> list[dict[str, Any]]:
    queued = decision.running.reason == Reason.WAITING_FOR_ADMISSION
    if decision.phase == Phase.SUSPENDED:
        suspended = Want(
            Cond.SUSPENDED, True, Reason.SUSPENDED_BY_SPEC, "spec.suspend is true; checkpoints are kept"
        )
    elif queued:
        suspended = Want(Cond.SUSPENDED, True, Reason.WAITING_FOR_ADMISSION, decision.running.message)
    else:
        suspended = Want(Cond.SUSPENDED, False, Reason.NOT_SUSPENDED)
    succeeded = (
        Want(Cond.SUCCEEDED, True, Reason.COMPLETED, decision.running.message)
        if decision.phase == Phase.SUCCEEDED
        else Want(Cond.SUCCEEDED, False, Reason.NOT_COMPLETED)
    )
    failed = decision.failed or _failed_since_last(prior) or Want(Cond.FAILED, False, Reason.NO_FAILURE)
    wanted = [datasets, decision.running, suspended, succeeded, failed]
    return merge_conditions(prior.get("conditions"), wanted, now, generation)


def _events(
    prior: dict[str, Any], decision: Decision, creating: dict[str, Any] | None, spec: FineTuneJobSpec
) -> list[Event]:
    events = []
    if creating is not None:
        resources = spec.resources
        shape = f"{resources.nodes} node(s) × {resources.accelerators_per_node} {resources.accelerator}"
        events.append(
            Event("Normal", Reason.ATTEMPT_CREATED, f"created Job {creating['metadata']['name']} ({shape})")
        )
    if prior.get("phase") != decision.phase:
        message = (decision.failed.message if decision.failed else "") or decision.running.message
        kind: EventType = "Warning" if decision.phase in WARNING_PHASES else "Normal"
        events.append(Event(kind, decision.phase, message))
    return events


def _invalid(prior: dict[str, Any], reason: str, message: str, now: datetime, generation: int | None) -> Plan:
    wanted = [Want(Cond.FAILED, True, reason, message), Want(Cond.RUNNING, False, Reason.FAILED, message)]
    status = written(
        FineTuneJobStatus,
        {
            **prior,
            "phase": Phase.FAILED,
            "observedGeneration": generation,
            "completionTime": prior.get("completionTime") or timestamp(now),
            "conditions": merge_conditions(prior.get("conditions"), wanted, now, generation),
        },
    )
    return Plan(status=status, events=[Event("Warning", reason, message)])


def _resume_from(spec: FineTuneJobSpec, latest: str | None) -> str | None:
    """The checkpoint the next pods start from: the recorded one, else spec.checkpointing.resumeFrom."""
    if spec.checkpointing.resume and latest:
        return f"{OUTPUT_DIR}/{latest.rsplit('/', 1)[-1]}"
    return spec.checkpointing.resume_from


def plan_training(observed: TrainingObservation, settings: OperatorSettings) -> Plan:
    body, now = observed.body, observed.now
    prior: dict[str, Any] = body.get("status") or {}
    generation = body["metadata"].get("generation")
    if prior.get("phase") in TERMINAL:
        return Plan()  # sticky: never recreated, never restarted
    try:
        spec = FineTuneJobSpec.model_validate(body.get("spec") or {})
        profile_for(spec.resources.accelerator)
    except ValidationError as err:
        return _invalid(prior, Reason.INVALID_SPEC, spec_problems(err), now, generation)
    except UnknownAccelerator as err:
        return _invalid(
            prior, Reason.UNKNOWN_ACCELERATOR, f"spec.resources.accelerator: {err}", now, generation
        )
    owner = owner_of(body)
    return _plan_valid(observed, settings, owner, spec, prior, generation)


def _plan_valid(
    observed: TrainingObservation,
    settings: OperatorSettings,
    owner: Owner,
    spec: FineTuneJobSpec,
    prior: dict[str, Any],
    generation: int | None,
) -> Plan:
    now = observed.now
    attempt = max([int(prior.get("attempts") or 0), *(attempt_of(job) for job in observed.jobs)])
    current = next((j for j in observed.jobs if attempt_of(j) == attempt and not is_deleting(j)), None)
    older = [job for job in observed.jobs if job is not current]
    pods = [pod for pod in observed.pods if attempt_of(pod) == attempt]
    state = observe_attempt(current, pods, spec.resources.nodes)

    datasets, eval_datasets, problems = resolve_datasets(spec, observed.datasets, owner.namespace)
    inputs = TrainingInputs(owner, spec, max(attempt, 1), tuple(datasets), tuple(eval_datasets))
    record = read_record(observed.progress)
    checkpoint = checkpoint_name(record) if record else None
    latest = f"{inputs.output_location}/{checkpoint}" if checkpoint else prior.get("latestCheckpoint")
    inputs = replace(inputs, resume_from=_resume_from(spec, latest))
    waiting = "; ".join(problem.message for problem in problems) or None

    plan = Plan(delete=[Ref.of(job) for job in older if not is_deleting(job)])
    creating = None
    if state.phase in ("Succeeded", "Failed"):
        # the attempt is over: succeed, fail, or delete it and record the next attempt's number
        decision = decide_ended(spec, state, inputs, now)
        if decision.phase == Phase.RESTARTING and current is not None:
            plan.delete.append(Ref.of(current))
    else:
        shown = attempt if problems and current is None else inputs.attempt
        decision = decide_live(spec, state, shown, current is not None, waiting)
        if not problems:
            plan.apply = shared_children(inputs, settings)
            if current is None and not older:  # the previous attempt's Job must be gone first
                suspend = desired_suspend(spec, job_exists=False)
                attempt_objects = attempt_children(inputs, settings, bool(suspend))
                plan.apply += attempt_objects
                creating = attempt_objects[-1]
                decision.attempt = inputs.attempt
        if current is not None:
            wanted = desired_suspend(spec, job_exists=True)
            if wanted is not None and bool((current.get("spec") or {}).get("suspend")) != wanted:
                plan.suspend = (current["metadata"]["name"], wanted)

    datasets_want = (
        Want(Cond.DATASETS_READY, False, problems[0].reason, waiting or "")
        if problems
        else Want(Cond.DATASETS_READY, True, Reason.ALL_READY, "every Dataset is prepared")
    )
    plan.status = _status(prior, decision, datasets_want, now, generation, record, latest)
    plan.events = _events(prior, decision, creating, spec)
    return plan


def _status(
    prior: dict[str, Any],
    decision: Decision,
    datasets_want: Want,
    now: datetime,
    generation: int | None,
    record: dict[str, Any] | None,
    latest: str | None,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "phase": decision.phase,
        "observedGeneration": generation,
        "conditions": _conditions(prior, decision, datasets_want, now, generation),
        "attempts": decision.attempt,
    }
    start = prior.get("startTime") or (timestamp(now) if decision.start and decision.attempt else None)
    optional = {
        "startTime": start,
        "completionTime": decision.completion_time or prior.get("completionTime"),
        "latestCheckpoint": latest,
        "outputLocation": decision.output_location or prior.get("outputLocation"),
        "progress": progress_status(record) if record else prior.get("progress"),
    }
    status.update({key: value for key, value in optional.items() if value})
    return written(FineTuneJobStatus, status)
