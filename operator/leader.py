"""Leader election on a coordination.k8s.io Lease: only the replica holding it runs the handlers.

A standby polls the Lease every ``retryPeriodSeconds`` and takes it when the policy in
:mod:`.policies.leadership` says so. Every write carries the resourceVersion it was decided from,
so two standbys racing for one Lease cannot both win: the API server rejects the second (409).
The leader renews every ``retryPeriodSeconds``; when it has not managed to for
``renewDeadlineSeconds`` (shorter than the lease duration, so it stops before anyone may take
over) or finds another holder, :meth:`LeaseElector.hold` raises :class:`LeadershipLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from .kube import ApiError, Kube
from .policies.leadership import (
    LeaseRecord,
    Sighting,
    may_take,
    observe,
    released_spec,
    renewed_spec,
    taken_spec,
)
from .reconcile.plan import Ref
from .settings import OperatorSettings

log = logging.getLogger(__name__)
LEASE_API = "coordination.k8s.io/v1"
T = TypeVar("T")


class LeadershipLost(RuntimeError):
    """The leader can no longer be sure it holds the Lease: it must stop acting at once."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class LeaseElector:
    def __init__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        identity: str,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        if settings.lease_namespace is None:
            raise ValueError("leader election needs leaseNamespace")
        self.kube = kube
        self.identity = identity
        self.ref = Ref(LEASE_API, "Lease", settings.lease_namespace, settings.lease_name)
        self.duration = settings.lease_duration_seconds
        self.renew_deadline = settings.renew_deadline_seconds
        self.retry = settings.retry_period_seconds
        self.monotonic = monotonic
        self.now = now
        self.leading = False
        self.last_contact: float | None = None  # when the API server last answered (monotonic)
        self.sighting: Sighting | None = None

    @property
    def lease(self) -> str:
        return f"Lease {self.ref.namespace}/{self.ref.name}"

    # --- one round each (blocking; run in a worker thread) -----------------------------------

    def _read(self) -> dict[str, Any] | None:
        lease = self.kube.get(LEASE_API, "Lease", self.ref.namespace, self.ref.name)
        self.last_contact = self.monotonic()
        return lease

    def try_take(self) -> bool:
        """One attempt to become the leader."""
        lease = self._read()
        if lease is None:
            body = {
                "apiVersion": LEASE_API,
                "kind": "Lease",
                "metadata": {"name": self.ref.name, "namespace": self.ref.namespace},
                "spec": taken_spec(None, self.identity, self.duration, self.now()),
            }
            try:
                self.kube.create(body)
            except ApiError as err:
                if err.status == 409:  # another replica created it first
                    return False
                raise
            return True
        record = LeaseRecord.of(lease)
        self.sighting = observe(self.sighting, record, self.monotonic())
        if not may_take(self.sighting, self.identity, self.monotonic()):
            return False
        patch = {
            "metadata": {"resourceVersion": record.resource_version},
            "spec": taken_spec(record, self.identity, self.duration, self.now()),
        }
        try:
            return self.kube.merge_patch(self.ref, patch) is not None
        except ApiError as err:
            if err.status == 409:  # someone wrote it since we read it: look again next round
                return False
            raise

    def try_renew(self) -> bool | None:
        """True: renewed. False: another replica holds it. None: a write race, try again."""
        lease = self._read()
        if lease is None or LeaseRecord.of(lease).holder != self.identity:
            return False
        patch = {
            "metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]},
            "spec": renewed_spec(self.now()),
        }
        try:
            return self.kube.merge_patch(self.ref, patch) is not None  # None: the Lease is gone
        except ApiError as err:
            if err.status == 409:
                return None
            raise

    def release_now(self) -> None:
        lease = self._read()
        if lease is None or LeaseRecord.of(lease).holder != self.identity:
            return
        patch = {
            "metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]},
            "spec": released_spec(self.now()),
        }
        self.kube.merge_patch(self.ref, patch)

    # --- the loops ----------------------------------------------------------------------------

    async def _in_thread(self, call: Callable[[], T], timeout: float) -> T:
        return await asyncio.wait_for(asyncio.to_thread(call), timeout)

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this replica leads (True) or ``stop`` is set (False)."""
        log.info("standing by for %s as %s", self.lease, self.identity)
        while not stop.is_set():
            try:
                if await self._in_thread(self.try_take, self.renew_deadline):
                    self.leading = True
                    log.info("leading: took %s as %s", self.lease, self.identity)
                    return True
            except Exception as err:  # the API server may be away for a while; keep trying
                log.warning("could not read or take %s: %s", self.lease, err)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry)
        return False

    async def hold(self) -> None:
        """Renew until leadership is lost; then raise :class:`LeadershipLost` (never returns otherwise)."""
        renewed = self.monotonic()
        while True:
            await asyncio.sleep(self.retry)
            left = self.renew_deadline - (self.monotonic() - renewed)
            outcome: bool | None = None
            try:
                outcome = await self._in_thread(self.try_renew, max(left, 0.1))
            except Exception as err:
                log.warning("could not renew %s: %s", self.lease, err)
            if outcome:
                renewed = self.monotonic()
                continue
            if outcome is False:
                self.leading = False
                raise LeadershipLost(f"{self.lease} is held by another replica now")
            if self.monotonic() - renewed >= self.renew_deadline:
                self.leading = False
                raise LeadershipLost(f"could not renew {self.lease} for {self.renew_deadline:g}s")

    async def release(self) -> None:
        """Let go on purpose (SIGTERM), so a standby takes over without waiting for expiry."""
        if not self.leading:
            return
        self.leading = False
        try:
            await self._in_thread(self.release_now, self.renew_deadline)
            log.info("released %s", self.lease)
        except Exception as err:  # the Lease then expires as if the leader had died
            log.warning("could not release %s: %s", self.lease, err)
