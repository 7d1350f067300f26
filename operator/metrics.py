"""Prometheus metrics of the operator: reconciles, errors and durations by kind, objects by phase,
restarts from checkpoints, leadership, and the training progress the operator already mirrors.

Counters and the histogram are updated where the work happens (:meth:`Metrics.reconcile` wraps
every reconcile). Objects by phase and the progress gauges are read at scrape time from a
snapshot the controller refreshes: on every status it writes, and on every periodic resync, which
lists all objects anyway (so objects that are gone drop out within one resync period).
Everything lives in the registry of one :class:`Metrics`, never in the process-wide default one.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

T = TypeVar("T")
PREFIX = "kubefactory"
NO_PHASE = "Unknown"  # created, not yet reconciled
# training progress as gauges: status.progress field → metric suffix
PROGRESS_GAUGES = {
    "step": "step",
    "totalSteps": "total_steps",
    "epoch": "epoch",
    "loss": "loss",
    "learningRate": "learning_rate",
    "tokensPerSecond": "tokens_per_second",
    "etaSeconds": "eta_seconds",
}
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

Key = tuple[str, str, str]  # kind, namespace, name


def key_of(body: dict[str, Any]) -> Key:
    meta = body["metadata"]
    return body["kind"], meta["namespace"], meta["name"]


def phase_counts(phases: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(kind, phase) pairs, one per object → how many objects of each kind are in each phase."""
    return dict(Tally(phases))


def restart_origin(body: dict[str, Any], new_status: dict[str, Any]) -> str | None:
    """On a FineTuneJob's move into Restarting: "true" when it resumes from a checkpoint, else "false"."""
    old_phase = (body.get("status") or {}).get("phase")
    if (
        body.get("kind") != "FineTuneJob"
        or new_status.get("phase") != "Restarting"
        or old_phase == "Restarting"
    ):
        return None
    resume = ((body.get("spec") or {}).get("checkpointing") or {}).get("resume", True)
    return "true" if resume and new_status.get("latestCheckpoint") else "false"


def progress_of(body: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, float]:
    """The numeric progress fields of a FineTuneJob's status (``status`` overrides the body's)."""
    progress = ((status if status is not None else body.get("status")) or {}).get("progress") or {}
    return {
        field: float(value)
        for field in PROGRESS_GAUGES
        if isinstance(value := progress.get(field), (int, float)) and not isinstance(value, bool)
    }


class Snapshot(Collector):
    """Objects by phase and training progress, as last seen; collected at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phases: dict[Key, str] = {}
        self._progress: dict[Key, dict[str, float]] = {}

    def replace(self, kind: str, bodies: Iterable[dict[str, Any]]) -> None:
        """Every object of ``kind`` (a full listing): objects not in it are gone."""
        bodies = list(bodies)
        with self._lock:
            for store in (self._phases, self._progress):
                for key in [key for key in store if key[0] == kind]:
                    del store[key]
            for body in bodies:
                self._put(body, body.get("status") or {})

    def update(self, body: dict[str, Any], status: dict[str, Any]) -> None:
        with self._lock:
            self._put(body, status)

    def _put(self, body: dict[str, Any], status: dict[str, Any]) -> None:
        key = key_of(body)
        self._phases[key] = status.get("phase") or NO_PHASE
        if progress := progress_of(body, status):
            self._progress[key] = progress
        else:
            self._progress.pop(key, None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            counts = phase_counts((kind, phase) for (kind, _, _), phase in self._phases.items())
            progress = dict(self._progress)
        objects = GaugeMetricFamily(
            f"{PREFIX}_objects", "KubeFactory objects by kind and phase.", labels=["kind", "phase"]
        )
        for (kind, phase), count in sorted(counts.items()):
            objects.add_metric([kind, phase], count)
        yield objects
        for field, suffix in PROGRESS_GAUGES.items():
            family = GaugeMetricFamily(
                f"{PREFIX}_finetunejob_progress_{suffix}",
                f"A FineTuneJob's status.progress.{field}, as its trainer last reported it.",
                labels=["namespace", "name"],
            )
            for (_, namespace, name), values in sorted(progress.items()):
                if field in values:
                    family.add_metric([namespace, name], values[field])
            yield family


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.reconciles = Counter(
            f"{PREFIX}_reconciles_total", "Reconciles run, by kind.", ["kind"], registry=self.registry
        )
        self.errors = Counter(
            f"{PREFIX}_reconcile_errors_total",
            "Reconciles that failed (an API error; retried on the next event or resync), by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.durations = Histogram(
            f"{PREFIX}_reconcile_duration_seconds",
            "How long one reconcile took, by kind.",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.restarts = Counter(
            f"{PREFIX}_finetunejob_restarts_total",
            "FineTuneJob attempts restarted after a failure; from_checkpoint: resumed from a checkpoint.",
            ["from_checkpoint"],
            registry=self.registry,
        )
        self.leader = Gauge(
            f"{PREFIX}_leader",
            "1 while this replica leads (runs the handlers), else 0.",
            registry=self.registry,
        )
        self.snapshot = Snapshot()
        self.registry.register(self.snapshot)

    def reconcile(self, kind: str, run: Callable[[], T]) -> T:
        """Run one reconcile, counting it, its failure and its duration."""
        started = time.perf_counter()
        self.reconciles.labels(kind).inc()
        try:
            return run()
        except Exception:
            self.errors.labels(kind).inc()
            raise
        finally:
            self.durations.labels(kind).observe(time.perf_counter() - started)

    def listed(self, kind: str, bodies: Iterable[dict[str, Any]]) -> None:
        self.snapshot.replace(kind, bodies)

    def status_written(self, body: dict[str, Any], status: dict[str, Any]) -> None:
        if (origin := restart_origin(body, status)) is not None:
            self.restarts.labels(origin).inc()
        self.snapshot.update(body, status)
