"""Conditions keep their transition time until their status changes."""

from __future__ import annotations

from datetime import datetime, timedelta

from kubefactory.operator.status.conditions import Want, merge_conditions, timestamp


def test_new_conditions_get_the_time_and_generation(now: datetime) -> None:
    merged = merge_conditions(
        None, [Want("Ready", True, "Prepared", "ok"), Want("Degraded", None, "Unknown")], now, 3
    )
    assert merged == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Prepared",
            "message": "ok",
            "lastTransitionTime": timestamp(now),
            "observedGeneration": 3,
        },
        {
            "type": "Degraded",
            "status": "Unknown",
            "reason": "Unknown",
            "message": "",
            "lastTransitionTime": timestamp(now),
            "observedGeneration": 3,
        },
    ]


def test_time_moves_only_when_the_status_does(now: datetime) -> None:
    before = merge_conditions(None, [Want("Running", False, "PodsPending", "0 of 2")], now, 1)
    later = now + timedelta(minutes=5)
    same = merge_conditions(before, [Want("Running", False, "Unschedulable", "0/10 nodes")], later, 1)
    assert same[0]["lastTransitionTime"] == timestamp(now)
    assert same[0]["reason"] == "Unschedulable"
    flipped = merge_conditions(same, [Want("Running", True, "AllNodesRunning")], later, 1)
    assert flipped[0]["lastTransitionTime"] == timestamp(later)
