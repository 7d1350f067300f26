"""Observe, decide, act: the I/O around the pure plans, one object at a time.

``Controller.trigger`` is what every kopf handler and the periodic resync call. It reads the
object and everything the decision depends on, asks :mod:`.reconcile` for a Plan and carries the
Plan out: status first (with the resourceVersion it was computed from, so a stale decision is
rejected and retried), then deletions, server-side applies, the Job's suspend field, events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .api import GROUP_VERSION
from .builders.progress_access import PROGRESS_KEY
from .coalesce import Coalescer
from .kube import ApiError, Kube
from .metrics import Metrics
from .naming import LABEL_COMPONENT, label_value, serving_names, training_names
from .naming import LABEL_DATASET as DATASET_LABEL
from .naming import LABEL_FINETUNEJOB as FINETUNEJOB_LABEL
from .naming import LABEL_MODELSERVER as MODELSERVER_LABEL
from .reconcile.dataset_plan import DatasetObservation, plan_dataset
from .reconcile.plan import Plan, Ref
from .reconcile.serving_plan import ServingObservation, finetunejob_names, plan_serving
from .reconcile.training_plan import TrainingObservation, plan_training
from .settings import OperatorSettings

log = logging.getLogger(__name__)
KINDS = ("FineTuneJob", "Dataset", "ModelServer")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def replacing_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch that turns ``old`` into ``new`` (keys missing from ``new`` become null)."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            patch[key] = replacing_patch(before, value)
        elif value != before:
            patch[key] = value
    return patch


class Controller:
    def __init__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.coalescer = Coalescer()

    # --- entry points -------------------------------------------------------------------------

    def trigger(self, kind: str, namespace: str, name: str) -> None:
        """Reconcile one FineTuneJob, Dataset or ModelServer (coalesced with a reconcile already running)."""
        reconcile = {
            "FineTuneJob": self.reconcile_training,
            "Dataset": self.reconcile_dataset,
            "ModelServer": self.reconcile_serving,
        }[kind]
        try:
            self.coalescer.run(
                (kind, namespace, name),
                lambda: self.metrics.reconcile(kind, lambda: reconcile(namespace, name)),
            )
        except ApiError as err:
            log.error("reconciling %s %s/%s failed: %s", kind, namespace, name, err)

    def resync(self) -> None:
        """Reconcile every object, whether or not anything was heard about it."""
        for kind in KINDS:
            namespaces: list[str | None] = [*self.settings.namespaces] or [None]
            listed = [body for ns in namespaces for body in self.kube.list(GROUP_VERSION, kind, ns)]
            self.metrics.listed(kind, listed)
            for body in listed:
                self.trigger(kind, body["metadata"]["namespace"], body["metadata"]["name"])

    # --- FineTuneJob --------------------------------------------------------------------------

    def observe_training(self, body: dict[str, Any]) -> TrainingObservation:
        meta, spec = body["metadata"], body.get("spec") or {}
        namespace, name = meta["namespace"], meta["name"]
        wanted = [
            ref.get("name") for ref in [*(spec.get("datasets") or []), *(spec.get("evalDatasets") or [])]
        ]
        datasets = {
            n: self.kube.get(GROUP_VERSION, "Dataset", namespace, n) for n in wanted if isinstance(n, str)
        }
        selector = {FINETUNEJOB_LABEL: label_value(name), LABEL_COMPONENT: "trainer"}
        jobs = self.kube.list("batch/v1", "Job", namespace, selector)
        pods = self.kube.list("v1", "Pod", namespace, selector)
        progress = self.kube.get("v1", "ConfigMap", namespace, training_names(name).progress)
        record = ((progress or {}).get("data") or {}).get(PROGRESS_KEY)
        return TrainingObservation(body, datasets, jobs, pods, record, self.clock())

    def reconcile_training(self, namespace: str, name: str) -> bool:
        body = self.kube.get(GROUP_VERSION, "FineTuneJob", namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return False
        plan = plan_training(self.observe_training(body), self.settings)
        again = self.execute(body, plan)
        if plan.status is not None and plan.status.get("phase") != (body.get("status") or {}).get("phase"):
            self.trigger_servers(namespace, name)
        return again

    # --- Dataset ------------------------------------------------------------------------------

    def reconcile_dataset(self, namespace: str, name: str) -> bool:
        body = self.kube.get(GROUP_VERSION, "Dataset", namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return False
        selector = {DATASET_LABEL: label_value(name), LABEL_COMPONENT: "dataset-prepare"}
        jobs = self.kube.list("batch/v1", "Job", namespace, selector)
        pods = self.kube.list("v1", "Pod", namespace, selector)
        plan = plan_dataset(DatasetObservation(body, jobs, pods, self.clock()), self.settings)
        again = self.execute(body, plan)
        if plan.status is not None and plan.status.get("phase") != (body.get("status") or {}).get("phase"):
            self.trigger_dependents(namespace, name)
        return again

    def trigger_dependents(self, namespace: str, dataset: str) -> None:
        """FineTuneJobs waiting on a Dataset hear about it at once, not at the next resync."""
        for job in self.kube.list(GROUP_VERSION, "FineTuneJob", namespace):
            spec = job.get("spec") or {}
            refs = [*(spec.get("datasets") or []), *(spec.get("evalDatasets") or [])]
            if any(ref.get("name") == dataset for ref in refs):
                self.trigger("FineTuneJob", namespace, job["metadata"]["name"])

    # --- ModelServer -------------------------------------------------------------------------

    def reconcile_serving(self, namespace: str, name: str) -> bool:
        body = self.kube.get(GROUP_VERSION, "ModelServer", namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return False
        wanted = finetunejob_names(body.get("spec") or {})
        jobs = {n: self.kube.get(GROUP_VERSION, "FineTuneJob", namespace, n) for n in wanted}
        owned = {MODELSERVER_LABEL: label_value(name)}
        merges = self.kube.list("batch/v1", "Job", namespace, {**owned, LABEL_COMPONENT: "model-merge"})
        observed = ServingObservation(
            body,
            jobs,
            self.kube.get("apps/v1", "Deployment", namespace, serving_names(name).server),
            merges,
            self.kube.list("autoscaling/v2", "HorizontalPodAutoscaler", namespace, owned),
            self.kube.list("policy/v1", "PodDisruptionBudget", namespace, owned),
            self.clock(),
        )
        return self.execute(body, plan_serving(observed, self.settings))

    def trigger_servers(self, namespace: str, finetunejob: str) -> None:
        """ModelServers waiting on a FineTuneJob hear about it at once, not at the next resync."""
        for server in self.kube.list(GROUP_VERSION, "ModelServer", namespace):
            if finetunejob in finetunejob_names(server.get("spec") or {}):
                self.trigger("ModelServer", namespace, server["metadata"]["name"])

    # --- acting on a plan ---------------------------------------------------------------------

    def execute(self, body: dict[str, Any], plan: Plan) -> bool:
        """Carry out ``plan``; True when the status write lost a race and the reconcile must rerun."""
        meta = body["metadata"]
        ref = Ref(body["apiVersion"], body["kind"], meta["namespace"], meta["name"])
        old_status = body.get("status") or {}
        if plan.status is not None and plan.status != old_status:
            patch = {
                "metadata": {"resourceVersion": meta["resourceVersion"]},
                "status": replacing_patch(old_status, plan.status),
            }
            try:
                self.kube.merge_patch(ref, patch, subresource="status")
            except ApiError as err:
                if err.status == 409:  # the object changed since it was read: decide again
                    return True
                raise
            self.metrics.status_written(body, plan.status)
        for stale in plan.delete:
            log.info("deleting %s %s/%s", stale.kind, stale.namespace, stale.name)
            self.kube.delete(stale)
        for child in plan.apply:
            try:
                self.kube.apply(child)
            except ApiError as err:
                what = f"{child['kind']} {child['metadata']['name']}"
                self.kube.event(
                    body, "Warning", "ApplyFailed", f"could not apply {what}: {err}", self.clock()
                )
                raise
        if plan.suspend is not None:
            job, suspend = plan.suspend
            self.kube.merge_patch(
                Ref("batch/v1", "Job", meta["namespace"], job), {"spec": {"suspend": suspend}}
            )
        for event in plan.events:
            self.kube.event(body, event.type, event.reason, event.message, self.clock())
        return False
