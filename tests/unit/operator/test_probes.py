"""Probes: /healthz, /readyz (connected and doing its part) and /metrics over real HTTP."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from kubefactory.operator.metrics import Metrics
from kubefactory.operator.probes import Health, serve_health, serve_metrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_without_leader_election_ready_means_kopf_started() -> None:
    health = Health(10, leader_election=False)
    assert health.ready() == (False, "starting")
    health.started.set()
    assert health.ready() == (True, "watching")


# (leading, kopf started, seconds since the API server answered or None) → ready, reason
READY = [
    (False, False, None, False, "no answer"),
    (False, False, 1.0, True, "standing by"),
    (False, False, 11.0, False, "no answer"),
    (True, False, 1.0, False, "leading, starting"),
    (True, True, 1.0, True, "leading, watching"),
    (True, True, 11.0, False, "no answer"),
]


@pytest.mark.parametrize(("leading", "started", "ago", "ready", "reason"), READY)
def test_readiness_with_leader_election(
    leading: bool, started: bool, ago: float | None, ready: bool, reason: str
) -> None:
    clock = Clock()
    health = Health(10, leader_election=True, monotonic=clock)
    health.leading = lambda: leading
    health.contact = lambda: None if ago is None else clock.now - ago
    if started:
        health.started.set()
    ok, text = health.ready()
    assert ok is ready and text.startswith(reason)


@pytest.fixture
def served() -> Iterator[tuple[int, int, Health, Metrics]]:
    health, metrics = Health(10, leader_election=False), Metrics()
    ports = free_port(), free_port()
    servers = [
        serve_health("127.0.0.1", ports[0], health),
        serve_metrics("127.0.0.1", ports[1], metrics.registry),
    ]
    yield ports[0], ports[1], health, metrics
    for server in servers:
        server.shutdown()
        server.server_close()


def test_endpoints_answer_over_http(served: tuple[int, int, Health, Metrics]) -> None:
    health_port, metrics_port, health, metrics = served
    assert get(health_port, "/healthz") == (200, "alive\n")
    assert get(health_port, "/readyz") == (503, "starting\n")
    health.started.set()
    assert get(health_port, "/readyz") == (200, "watching\n")
    assert get(health_port, "/metrics")[0] == 404
    metrics.reconcile("Dataset", lambda: None)
    status, text = get(metrics_port, "/metrics")
    assert status == 200 and 'kubefactory_reconciles_total{kind="Dataset"} 1.0' in text
