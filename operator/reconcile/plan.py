"""What one reconcile decided; the handlers carry it out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import ValidationError

EventType = Literal["Normal", "Warning"]


class Reader(Protocol):
    """Where observations come from: the API client, or the watch cache in front of it."""

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list(
        self, api_version: str, kind: str, namespace: str | None, selector: dict[str, str] | None = None
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Ref:
    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Ref:
        meta = obj["metadata"]
        return cls(obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


@dataclass(frozen=True)
class Event:
    type: EventType
    reason: str
    message: str


@dataclass
class Plan:
    status: dict[str, Any] | None = None  # None: leave the status as it is
    apply: list[dict[str, Any]] = field(default_factory=list)  # server-side applied, in order
    delete: list[Ref] = field(default_factory=list)
    suspend: tuple[str, bool] | None = None  # (Job name, spec.suspend to set)
    events: list[Event] = field(default_factory=list)


def spec_problems(err: ValidationError) -> str:
    """Every problem of a spec, one per line, with its field path (``spec.resources.nodes: ...``)."""
    lines = []
    for error in err.errors():
        path = "spec"
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        lines.append(f"{path}: {error['msg']}")
    return "; ".join(lines)


def changed(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    return (old or {}) != new
