"""One attempt as observed: its Job and pods → Missing, Pending, Running, Suspended, Succeeded or Failed.

A failed pod is described by what Kubernetes recorded: the trainer container's exit code, reason
(Error, OOMKilled...) and termination message, or the pod's own reason when it never got that far
(Evicted, a lost node, preemption: ``disrupted``, which the failure policy always retries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..builders.layout import TRAINER_CONTAINER

AttemptPhase = Literal["Missing", "Pending", "Running", "Suspended", "Succeeded", "Failed"]
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
DISRUPTION_REASONS = {
    "Evicted",
    "NodeLost",
    "Preempting",
    "Shutdown",
    "Terminated",
    "UnexpectedAdmissionError",
}


@dataclass(frozen=True)
class PodFailure:
    pod: str
    node_rank: str | None
    exit_code: int | None
    reason: str
    message: str = ""
    disrupted: bool = False  # the node or the cluster ended it, not the trainer

    def describe(self) -> str:
        who = f"pod {self.pod}" if self.pod else "the Job"
        if self.node_rank is not None:
            who += f" (node rank {self.node_rank})"
        if self.exit_code is not None:
            text = f"{who} exited with code {self.exit_code} ({self.reason})"
        else:
            text = f"{who} failed: {self.reason}"
        message = " ".join(self.message.split())
        return f"{text}: {message[:300]}" if message else text


@dataclass(frozen=True)
class AttemptState:
    phase: AttemptPhase
    running: int = 0
    failures: tuple[PodFailure, ...] = ()
    unschedulable: str | None = None  # the scheduler's message for a pod it cannot place
    completion_time: str | None = None


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_ and c.get("status") == "True"), None)


def _terminated(pod: dict[str, Any]) -> dict[str, Any] | None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") == TRAINER_CONTAINER or len(statuses) == 1:
            state = status.get("state") or {}
            last = status.get("lastState") or {}
            return state.get("terminated") or last.get("terminated")
    return None


def pod_failure(pod: dict[str, Any]) -> PodFailure:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    rank = (meta.get("annotations") or {}).get(COMPLETION_INDEX_ANNOTATION)
    name = meta.get("name", "")
    disruption = _condition(pod, "DisruptionTarget")
    if disruption is not None or status.get("reason") in DISRUPTION_REASONS:
        reason = status.get("reason") or (disruption or {}).get("reason") or "Disrupted"
        message = status.get("message") or (disruption or {}).get("message") or ""
        return PodFailure(name, rank, None, reason, message, disrupted=True)
    terminated = _terminated(pod)
    if terminated is None:
        return PodFailure(name, rank, None, status.get("reason") or "PodFailed", status.get("message") or "")
    return PodFailure(
        name,
        rank,
        int(terminated.get("exitCode", 1)),
        terminated.get("reason") or "Error",
        terminated.get("message") or "",
    )


def _is_deleting(obj: dict[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _unschedulable(pods: list[dict[str, Any]]) -> str | None:
    for pod in pods:
        scheduled = next(
            (c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"),
            None,
        )
        if scheduled and scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
            return f"pod {pod['metadata']['name']}: {scheduled.get('message', 'cannot be scheduled')}"
    return None


def observe_attempt(job: dict[str, Any] | None, pods: list[dict[str, Any]], nodes: int) -> AttemptState:
    """The state of one attempt from its Job and the pods that Job created."""
    if job is None:
        return AttemptState("Missing")
    live = [pod for pod in pods if not _is_deleting(pod)]
    complete = _condition(job, "Complete")
    if complete is not None:
        completion = (job.get("status") or {}).get("completionTime") or complete.get("lastTransitionTime")
        return AttemptState("Succeeded", completion_time=completion)
    failures = tuple(pod_failure(pod) for pod in live if (pod.get("status") or {}).get("phase") == "Failed")
    job_failed = _condition(job, "Failed") or _condition(job, "FailureTarget")
    if failures or job_failed is not None:
        if not failures:  # the pods are gone; the Job still says why
            failures = (
                PodFailure(
                    "",
                    None,
                    None,
                    job_failed.get("reason") or "JobFailed",  # type: ignore[union-attr]
                    job_failed.get("message") or "",  # type: ignore[union-attr]
                    disrupted=True,
                ),
            )
        return AttemptState("Failed", failures=failures)
    if (job.get("spec") or {}).get("suspend"):
        return AttemptState("Suspended")
    running = sum(1 for pod in live if (pod.get("status") or {}).get("phase") == "Running")
    if running >= nodes:
        return AttemptState("Running", running=running)
    return AttemptState("Pending", running=running, unschedulable=_unschedulable(live))
