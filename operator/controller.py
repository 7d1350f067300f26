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

from .cache import CachedReader, WatchCache
from .coalesce import Coalescer
from .kube import ApiError, Kube
from .metrics import Metrics
from .naming import LABEL_MANAGED_BY, MANAGER
from .reconcile.plan import Plan, Reader, Ref
from .registry import REGISTRY, ROWS, KindRow, referrers
from .settings import OperatorSettings

log = logging.getLogger(__name__)
KINDS = tuple(REGISTRY)


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
    # every this many resync rounds, the cache is re-listed (5 minutes at the default 30 s): between
    # them a steady state makes no LIST at all
    REFRESH_EVERY = 10

    def __init__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
        cache: WatchCache | None = None,
    ) -> None:
        self.kube = kube
        self.cache = cache
        self.rounds = 0
        self.settings = settings
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.coalescer = Coalescer()

    @property
    def reader(self) -> Reader:
        """Where children and referenced objects are read from: the watch cache once it is ready."""
        return CachedReader(self.cache, self.kube) if self.cache is not None else self.kube

    def cache_ready(self) -> bool:
        return self.cache is not None and self.cache.ready.is_set()

    # --- entry points -------------------------------------------------------------------------

    def trigger(self, kind: str, namespace: str, name: str) -> None:
        """Reconcile one object of a registered kind (coalesced with a reconcile already running)."""
        row = REGISTRY.get(kind)
        if row is None:
            log.warning("ignoring %s %s/%s: not a kind the operator reconciles", kind, namespace, name)
            return
        try:
            self.coalescer.run(
                (kind, namespace, name),
                lambda: self.metrics.reconcile(kind, lambda: self.reconcile(row, namespace, name)),
            )
        except ApiError as err:
            log.error("reconciling %s %s/%s failed: %s", kind, namespace, name, err)

    def resync(self) -> None:
        """Reconcile every object, whether or not anything was heard about it (every
        ``REFRESH_EVERY`` rounds, after making the cache agree with the API server, in case a
        reconnected watch missed a deletion)."""
        self.rounds += 1
        if self.cache_ready() and self.rounds % self.REFRESH_EVERY == 0:
            self.refresh_cache()
        for row in ROWS:
            listed = self.list_all(row)
            self.metrics.listed(row.kind, listed)
            for body in listed:
                self.trigger(row.kind, body["metadata"]["namespace"], body["metadata"]["name"])

    def namespaces(self) -> list[str | None]:
        return [*self.settings.namespaces] or [None]

    def list_all(self, row: KindRow) -> list[dict[str, Any]]:
        source: Reader = self.cache if self.cache is not None and self.cache_ready() else self.kube
        return [body for ns in self.namespaces() for body in source.list(row.api_version, row.kind, ns)]

    def refresh_cache(self) -> None:
        """One LIST per cached kind (and namespace), with the watches' label selector."""
        assert self.cache is not None
        custom = {(row.api_version, row.kind) for row in ROWS}
        for api_version, kind in sorted(self.cache.kinds):
            selector = None if (api_version, kind) in custom else {LABEL_MANAGED_BY: MANAGER}
            for ns in self.namespaces():
                items, version = self.kube.list_versioned(api_version, kind, ns, selector)
                self.cache.replace(api_version, kind, items, version, ns)

    # --- one object ---------------------------------------------------------------------------

    def reconcile(self, row: KindRow, namespace: str, name: str) -> bool:
        """Read the object fresh (its resourceVersion guards the status write), observe, plan, act."""
        body = self.kube.get(row.api_version, row.kind, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return False
        plan = row.plan(row.observe(self.reader, body, self.clock()), self.settings)
        again = self.execute(body, plan)
        if plan.status is not None and plan.status.get("phase") != (body.get("status") or {}).get("phase"):
            self.trigger_referrers(row.kind, namespace, name)
        return again

    def trigger_referrers(self, kind: str, namespace: str, name: str) -> None:
        """Objects waiting on this one (FineTuneJobs on a Dataset, ModelServers on a FineTuneJob)
        hear about its new phase at once, not at the next resync."""
        for row, reference in referrers(kind):
            for body in self.candidates(row, namespace):
                if name in reference.names(body.get("spec") or {}):
                    self.trigger(row.kind, namespace, body["metadata"]["name"])

    def candidates(self, row: KindRow, namespace: str) -> list[dict[str, Any]]:
        """Every object of ``row``'s kind in ``namespace``."""
        if self.cache is not None and self.cache_ready():
            return self.cache.list(row.api_version, row.kind, namespace)
        return self.kube.list(row.api_version, row.kind, namespace)

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
