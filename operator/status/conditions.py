"""metav1.Condition lists: a condition keeps its lastTransitionTime until its status changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second, as the API server writes times."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Want:
    """A condition as a status function wants it; the time is filled in by :func:`merge_conditions`."""

    type: str
    status: bool | None  # None: Unknown
    reason: str
    message: str = ""

    @property
    def status_text(self) -> str:
        return "Unknown" if self.status is None else str(self.status)


def merge_conditions(
    previous: list[dict[str, Any]] | None, wanted: list[Want], now: datetime, generation: int | None
) -> list[dict[str, Any]]:
    """The wanted conditions in order; each keeps its old lastTransitionTime if its status is unchanged."""
    before = {condition.get("type"): condition for condition in previous or []}
    out = []
    for want in wanted:
        old = before.get(want.type)
        changed = old is None or old.get("status") != want.status_text
        condition: dict[str, Any] = {
            "type": want.type,
            "status": want.status_text,
            "reason": want.reason,
            "message": want.message[:32768],
            "lastTransitionTime": timestamp(now) if changed else old["lastTransitionTime"],  # type: ignore[index]
        }
        if generation is not None:
            condition["observedGeneration"] = generation
        out.append(condition)
    return out


def find(conditions: list[dict[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def is_true(conditions: list[dict[str, Any]] | None, type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.get("status") == "True"
