"""A ModelServer's reconcile, as a pure function of what is observed.

Pending (waiting for a FineTuneJob) → Merging (with ``merge: true``) → Deploying → Ready, or
Failed. While it waits or merges, a Deployment that already exists is left as it is: the server
keeps answering with what it had until the new model is ready to roll out, and the rollout itself
never takes the last ready pod away (``maxUnavailable: 0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..api import GROUP_VERSION
from ..api.modelserver import ModelServerSpec, ModelServerStatus
from ..api.modelserver import ServingCondition as Cond
from ..api.modelserver import ServingPhase as Phase
from ..api.modelserver import ServingReason as Reason
from ..builders.merge_job import DIGEST_ANNOTATION, merge_job
from ..builders.server_command import EngineArgsError
from ..builders.server_deployment import REVISION_ANNOTATION, engine_image, server_deployment
from ..builders.serving_children import (
    autoscaler,
    config_files,
    config_map,
    disruption_budget,
    merged_claim,
    server_service,
)
from ..builders.serving_inputs import ServingInputs, digest, server_selector
from ..naming import LABEL_COMPONENT, label_value, owner_of, serving_names
from ..profiles import UnknownAccelerator, profile_for
from ..settings import OperatorSettings
from ..status.conditions import Want, find, merge_conditions
from ..status.written import written
from .plan import Event, EventType, Plan, Reader, Ref, spec_problems
from .serving_sources import Problem, resolve


@dataclass(frozen=True)
class ServingObservation:
    body: dict[str, Any]  # the ModelServer as read
    finetunejobs: dict[str, dict[str, Any] | None]  # every referenced FineTuneJob by name; None: not found
    deployment: dict[str, Any] | None
    merge_jobs: list[dict[str, Any]]
    autoscalers: list[dict[str, Any]]
    budgets: list[dict[str, Any]]
    now: datetime


def observe_serving(read: Reader, body: dict[str, Any], now: datetime) -> ServingObservation:
    """What a ModelServer's decision depends on: its FineTuneJobs, Deployment, merge Jobs,
    autoscalers and disruption budgets."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    wanted = finetunejob_names(body.get("spec") or {})
    jobs = {n: read.get(GROUP_VERSION, "FineTuneJob", namespace, n) for n in wanted}
    owned = {owner_of(body).label: label_value(name)}
    return ServingObservation(
        body,
        jobs,
        read.get("apps/v1", "Deployment", namespace, serving_names(name).server),
        read.list("batch/v1", "Job", namespace, {**owned, LABEL_COMPONENT: "model-merge"}),
        read.list("autoscaling/v2", "HorizontalPodAutoscaler", namespace, owned),
        read.list("policy/v1", "PodDisruptionBudget", namespace, owned),
        now,
    )


@dataclass(frozen=True)
class Rollout:
    """The Deployment as observed against what is wanted."""

    replicas: int = 0
    ready: int = 0
    available: int = 0
    complete: bool = False  # every desired replica runs the wanted revision and is available
    stalled: str | None = None  # the Deployment gave up progressing

    @property
    def available_want(self) -> Want:
        return Want(
            Cond.AVAILABLE,
            self.available > 0,
            Reason.AVAILABLE if self.available else Reason.NO_REPLICA_READY,
        )


def finetunejob_names(spec: dict[str, Any]) -> list[str]:
    """Every FineTuneJob a ModelServer spec names (read before the spec is validated)."""
    refs = [
        spec.get("fineTuneJob") or {},
        *((a or {}).get("fineTuneJob") or {} for a in spec.get("adapters") or []),
    ]
    return [ref["name"] for ref in refs if isinstance(ref.get("name"), str)]


def observe_rollout(deployment: dict[str, Any] | None, revision: str | None, desired: int) -> Rollout:
    if deployment is None:
        return Rollout()
    status = deployment.get("status") or {}
    replicas, ready = int(status.get("replicas") or 0), int(status.get("readyReplicas") or 0)
    available, updated = int(status.get("availableReplicas") or 0), int(status.get("updatedReplicas") or 0)
    template = ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
    current = (
        revision is not None and (template.get("annotations") or {}).get(REVISION_ANNOTATION) == revision
    )
    observed = int(status.get("observedGeneration") or 0) >= int(
        deployment["metadata"].get("generation") or 0
    )
    spec_replicas = (deployment.get("spec") or {}).get("replicas")
    complete = (
        current
        and observed
        and spec_replicas == desired
        and updated == desired
        and replicas == desired
        and available >= desired
    )
    progressing = find(status.get("conditions"), "Progressing") or {}
    stalled = (
        progressing.get("message")
        if progressing.get("reason") == "ProgressDeadlineExceeded"
        else None  # the Deployment controller's reason
    )
    return Rollout(replicas, ready, available, complete, stalled)


def merge_state(job: dict[str, Any] | None) -> tuple[str, str]:
    """Missing, Running, Complete or Failed, and the Job's own message."""
    if job is None:
        return "Missing", ""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return condition["type"], condition.get("message") or condition.get("reason") or ""
    return "Running", ""


@dataclass
class Outcome:
    phase: str
    model: Want
    progressing: Want
    rollout: Rollout
    inputs: ServingInputs | None = None


def plan_serving(observed: ServingObservation, settings: OperatorSettings) -> Plan:
    body = observed.body
    desired = int((body.get("spec") or {}).get("replicas") or 0)
    rollout = observe_rollout(observed.deployment, None, desired)
    try:
        spec = ModelServerSpec.model_validate(body.get("spec") or {})
        profile_for(spec.resources.accelerator)
    except ValidationError as err:
        return _finish(observed, Plan(), _failed(Reason.INVALID_SPEC, spec_problems(err), rollout))
    except UnknownAccelerator as err:
        return _finish(
            observed, Plan(), _failed(Reason.INVALID_SPEC, f"spec.resources.accelerator: {err}", rollout)
        )
    if spec.resources.nodes_per_replica > 1:
        message = (
            f"spec.resources.nodesPerReplica is {spec.resources.nodes_per_replica}: a replica across nodes "
            "needs a LeaderWorkerSet, which this operator does not render yet; use one node per replica"
        )
        return _finish(observed, Plan(), _failed(Reason.LEADER_WORKER_SET_REQUIRED, message, rollout))
    resolved = resolve(owner_of(body), spec, observed.finetunejobs)
    if isinstance(resolved, list):
        return _finish(observed, Plan(), _waiting(resolved, rollout))
    return _plan_resolved(observed, settings, resolved)


def _plan_resolved(observed: ServingObservation, settings: OperatorSettings, inputs: ServingInputs) -> Plan:
    spec = inputs.spec
    image = engine_image(inputs, settings)
    rollout = observe_rollout(observed.deployment, None, spec.replicas)
    if image is None:
        message = (
            f"no {spec.engine} image for {inputs.profile.vendor} is configured: set spec.image "
            f"(or the operator's engineImages.{spec.engine}.{inputs.profile.vendor})"
        )
        return _finish(observed, Plan(), _failed(Reason.NO_IMAGE, message, rollout))
    files = config_files(inputs)
    plan = Plan(apply=[config_map(inputs, files)] if files else [])
    if inputs.merge is not None:
        merging = _plan_merge(observed, settings, inputs, plan)
        if merging is not None:
            return _finish(observed, plan, merging)
    revision = digest(files, inputs.revision)
    try:
        deployment = server_deployment(inputs, settings, image, revision)
    except EngineArgsError as err:
        return _finish(observed, Plan(), _failed(Reason.INVALID_SPEC, str(err), rollout))
    plan.apply += [server_service(inputs), deployment]
    wanted = {
        "HorizontalPodAutoscaler": autoscaler(inputs),
        "PodDisruptionBudget": disruption_budget(inputs),
    }
    plan.apply += [child for child in wanted.values() if child is not None]
    for found in [*observed.autoscalers, *observed.budgets]:
        if wanted.get(found["kind"]) is None and not found["metadata"].get("deletionTimestamp"):
            plan.delete.append(Ref.of(found))
    rollout = observe_rollout(observed.deployment, revision, spec.replicas)
    return _finish(observed, plan, _deploying(inputs, rollout))


def _plan_merge(
    observed: ServingObservation, settings: OperatorSettings, inputs: ServingInputs, plan: Plan
) -> Outcome | None:
    """Apply the merge's children; an Outcome while the merge is not done (None once it is)."""
    merge = inputs.merge
    assert merge is not None  # checked by the caller
    plan.apply.append(merged_claim(inputs, settings))
    ours = [j for j in observed.merge_jobs if not j["metadata"].get("deletionTimestamp")]
    job = next(
        (j for j in ours if (j["metadata"].get("annotations") or {}).get(DIGEST_ANNOTATION) == merge.digest),
        None,
    )
    plan.delete += [Ref.of(j) for j in ours if j is not job]
    state, detail = merge_state(job)
    rollout = observe_rollout(observed.deployment, None, inputs.spec.replicas)
    if state == "Complete":
        return None
    name = inputs.names.merge_job(merge.digest)
    if state == "Failed":
        message = f"Job {name} could not merge {merge.adapter_uri} into {merge.base_uri}: {detail}"
        return _failed(Reason.MERGE_FAILED, message, rollout)
    if state == "Missing":
        plan.apply.append(merge_job(inputs, settings))
        plan.events.append(
            Event("Normal", Reason.MERGE_JOB_CREATED, f"created Job {name} to merge the adapter")
        )
    message = f"Job {name} is merging {merge.adapter_uri} into {merge.base_uri}"
    return Outcome(
        Phase.MERGING,
        Want(Cond.MODEL_READY, False, Reason.MERGING, message),
        Want(Cond.PROGRESSING, True, Reason.MERGING, message),
        rollout,
    )


def _failed(reason: str, message: str, rollout: Rollout) -> Outcome:
    return Outcome(
        Phase.FAILED,
        Want(Cond.MODEL_READY, False, reason, message),
        Want(Cond.PROGRESSING, False, reason, message),
        rollout,
    )


def _waiting(problems: list[Problem], rollout: Rollout) -> Outcome:
    failed = [p for p in problems if p.failed]
    first = (failed or problems)[0]
    message = "; ".join(p.message for p in (failed or problems))
    phase = Phase.FAILED if failed else Phase.PENDING
    return Outcome(
        phase,
        Want(Cond.MODEL_READY, False, first.reason, message),
        Want(Cond.PROGRESSING, False, first.reason, message),
        rollout,
    )


def _deploying(inputs: ServingInputs, rollout: Rollout) -> Outcome:
    served = ", ".join(inputs.served_models)
    model = Want(
        Cond.MODEL_READY, True, Reason.MERGED if inputs.merge else Reason.RESOLVED, f"serving {served}"
    )
    desired = inputs.spec.replicas
    if rollout.stalled:
        progressing = Want(Cond.PROGRESSING, False, Reason.PROGRESS_DEADLINE_EXCEEDED, rollout.stalled)
    elif rollout.complete:
        progressing = Want(
            Cond.PROGRESSING, False, Reason.ROLLOUT_COMPLETE, f"{desired} of {desired} replicas up to date"
        )
    else:
        progressing = Want(
            Cond.PROGRESSING, True, Reason.PROGRESSING, f"rolling out {served} to {desired} replica(s)"
        )
    return Outcome(Phase.READY if rollout.complete else Phase.DEPLOYING, model, progressing, rollout, inputs)


def _finish(observed: ServingObservation, plan: Plan, outcome: Outcome) -> Plan:
    body, now = observed.body, observed.now
    before: dict[str, Any] = body.get("status") or {}
    generation = body["metadata"].get("generation")
    rollout = outcome.rollout
    desired = int((body.get("spec") or {}).get("replicas") or 0)
    available = rollout.available_want
    message = f"{rollout.ready} of {desired} replicas ready"
    wanted = [
        outcome.model,
        Want(available.type, available.status, available.reason, message),
        outcome.progressing,
    ]
    status: dict[str, Any] = {
        "phase": outcome.phase,
        "observedGeneration": generation,
        "conditions": merge_conditions(before.get("conditions"), wanted, now, generation),
        "replicas": rollout.replicas,
        "readyReplicas": rollout.ready,
    }
    selector = server_selector(owner_of(body))
    status["selector"] = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
    if outcome.inputs is not None:
        status["url"] = outcome.inputs.url
        status["servedModels"] = outcome.inputs.served_models
    elif observed.deployment is not None:  # still serving what it served before
        status.update({k: before[k] for k in ("url", "servedModels") if k in before})
    plan.status = written(ModelServerStatus, status)
    if before.get("phase") != outcome.phase:
        kind: EventType = "Warning" if outcome.phase == Phase.FAILED else "Normal"
        text = (
            outcome.model.message
            if outcome.phase != Phase.READY
            else f"{message}; serving at {status.get('url')}"
        )
        plan.events.append(Event(kind, outcome.phase, text))
    return plan
