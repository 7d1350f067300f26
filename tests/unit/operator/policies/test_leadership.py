"""Leadership policy: when a replica may take the Lease, judged on its own clock; what it writes."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from kubefactory.operator.policies.leadership import (
    LeaseRecord,
    Sighting,
    may_take,
    micro_time,
    observe,
    released_spec,
    renewed_spec,
    taken_spec,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)


def record(holder: str = "a", duration: float = 15, rv: str = "1", transitions: int = 0) -> LeaseRecord:
    return LeaseRecord(holder, duration, transitions, rv)


# holder, seen since (monotonic), now → may "b" take it
TABLE = [
    ("", 100.0, 100.0, True),  # released: at once
    ("b", 100.0, 100.0, True),  # ours already (a restart under the same identity)
    ("a", 100.0, 100.0, False),  # held and just renewed
    ("a", 100.0, 114.9, False),  # not yet a whole lease duration without renewal
    ("a", 100.0, 115.0, True),  # unchanged for the lease duration: the holder is gone
]


@pytest.mark.parametrize(("holder", "since", "now", "wanted"), TABLE)
def test_may_take(holder: str, since: float, now: float, wanted: bool) -> None:
    assert may_take(Sighting(record(holder), since), "b", now) is wanted


def test_a_renewal_restarts_the_wait_and_an_unchanged_record_does_not() -> None:
    first = observe(None, record(rv="1"), now=100.0)
    same = observe(first, record(rv="1"), now=110.0)
    renewed = observe(same, record(rv="2"), now=112.0)
    assert same is first and same.since == 100.0
    assert renewed.since == 112.0
    assert not may_take(renewed, "b", now=120.0) and may_take(renewed, "b", now=127.0)


def test_the_holders_clock_does_not_matter() -> None:
    # a renewTime far in the future (a skewed clock) changes nothing: only sightings count
    lease = {
        "metadata": {"resourceVersion": "7"},
        "spec": {
            "holderIdentity": "a",
            "leaseDurationSeconds": 4,
            "renewTime": "2099-01-01T00:00:00.000000Z",
        },
    }
    seen = observe(None, LeaseRecord.of(lease), now=50.0)
    assert may_take(seen, "b", now=54.0)


def test_record_of_an_empty_lease() -> None:
    assert LeaseRecord.of({"metadata": {"resourceVersion": "3"}}) == LeaseRecord("", 0.0, 0, "3")


def test_taking_counts_transitions_only_between_holders() -> None:
    assert taken_spec(None, "b", 15, NOW)["leaseTransitions"] == 0
    assert taken_spec(record("a", transitions=4), "b", 15, NOW)["leaseTransitions"] == 5
    assert taken_spec(record("b", transitions=4), "b", 15, NOW)["leaseTransitions"] == 4
    spec = taken_spec(record(""), "b", 15, NOW)
    assert spec["holderIdentity"] == "b" and spec["leaseDurationSeconds"] == 15
    assert spec["acquireTime"] == spec["renewTime"] == "2026-01-02T03:04:05.678901Z"


def test_renew_and_release() -> None:
    assert renewed_spec(NOW) == {"renewTime": micro_time(NOW)}
    released = released_spec(NOW)
    assert released["holderIdentity"] is None and released["leaseDurationSeconds"] == 1
