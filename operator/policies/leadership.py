"""Leadership policy: when a replica may take the Lease, and what it writes into it.

Expiry is judged the way client-go's leader election does: not from the ``renewTime`` the holder
wrote (clocks of two machines differ), but from when *this* replica last saw the record change.
A holder that stops renewing leaves the record unchanged; once it has stayed unchanged for the
Lease's ``leaseDurationSeconds`` on the standby's own monotonic clock, the standby may take it.
An empty holder means the leader let go (on SIGTERM): any replica may take it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


def micro_time(moment: datetime) -> str:
    """A metav1.MicroTime, as Lease times are written."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaseRecord:
    """What a Lease says about its holder."""

    holder: str  # "" when nobody holds it
    duration_seconds: float
    transitions: int
    resource_version: str

    @classmethod
    def of(cls, lease: dict[str, Any]) -> LeaseRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder=spec.get("holderIdentity") or "",
            duration_seconds=float(spec.get("leaseDurationSeconds") or 0),
            transitions=int(spec.get("leaseTransitions") or 0),
            resource_version=str(lease["metadata"].get("resourceVersion", "")),
        )


@dataclass(frozen=True)
class Sighting:
    """A record as this replica saw it, and since when (monotonic seconds) it has looked like that."""

    record: LeaseRecord
    since: float


def observe(previous: Sighting | None, record: LeaseRecord, now: float) -> Sighting:
    """Every write to a Lease changes its resourceVersion: an unchanged one keeps its first sighting."""
    if previous is not None and previous.record.resource_version == record.resource_version:
        return previous
    return Sighting(record, now)


def may_take(sighting: Sighting, identity: str, now: float) -> bool:
    """Free, already ours (a restart under the same name), or not renewed for a whole lease duration."""
    holder = sighting.record.holder
    if not holder or holder == identity:
        return True
    return now - sighting.since >= sighting.record.duration_seconds


def taken_spec(
    record: LeaseRecord | None, identity: str, duration_seconds: int, now: datetime
) -> dict[str, Any]:
    """The Lease spec of a replica that has just become the leader."""
    transitions = 0 if record is None else record.transitions + (record.holder != identity)
    stamp = micro_time(now)
    return {
        "holderIdentity": identity,
        "leaseDurationSeconds": duration_seconds,
        "acquireTime": stamp,
        "renewTime": stamp,
        "leaseTransitions": transitions,
    }


def renewed_spec(now: datetime) -> dict[str, Any]:
    return {"renewTime": micro_time(now)}


def released_spec(now: datetime) -> dict[str, Any]:
    """What a leader writes when it stops on purpose: nobody holds it, so a standby takes it at once."""
    return {"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": micro_time(now)}
