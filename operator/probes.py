"""The operator's HTTP endpoints: /healthz and /readyz for the kubelet, /metrics for Prometheus.

- **live** (``/healthz``): the process answers. Whatever would make it useless ends the process
  instead (lost leadership, kopf stopping), so a hung process is the only thing left to catch.
- **ready** (``/readyz``): connected and doing its part. A leader is ready once kopf has started
  (logged in, startup handlers done, watch streams spawned) and the API server answered within
  ``renewDeadlineSeconds``; a standby once the API server answered its last look at the Lease
  within that time. So with two replicas both are Ready, and a replica cut off from the API server
  is not. Without leader election, ready means kopf has started.

Each endpoint is a small threaded HTTP server; they never touch the event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Check = Callable[[], tuple[bool, str]]


@dataclass
class Health:
    """What the probes read; set by the run loop (``started``) and the elector (``contact``)."""

    contact_window: float  # seconds within which the API server must have answered
    leader_election: bool
    started: threading.Event = field(default_factory=threading.Event)  # kopf is up
    contact: Callable[[], float | None] = lambda: None  # monotonic time the API server last answered
    leading: Callable[[], bool] = lambda: False
    monotonic: Callable[[], float] = time.monotonic

    def live(self) -> tuple[bool, str]:
        return True, "alive"

    def ready(self) -> tuple[bool, str]:
        if not self.leader_election:
            return (True, "watching") if self.started.is_set() else (False, "starting")
        contact = self.contact()
        if contact is None or self.monotonic() - contact > self.contact_window:
            return False, f"no answer from the API server in the last {self.contact_window:g}s"
        if self.leading():
            return (True, "leading, watching") if self.started.is_set() else (False, "leading, starting")
        return True, "standing by"


def _handler(routes: dict[str, Callable[[], tuple[int, str, bytes]]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            status, content_type, body = route() if route else (404, "text/plain", b"not found\n")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the kubelet probes every few seconds: no log line per probe

    return Handler


def _check(check: Check) -> Callable[[], tuple[int, str, bytes]]:
    def answer() -> tuple[int, str, bytes]:
        ok, text = check()
        return (200 if ok else 503), "text/plain; charset=utf-8", f"{text}\n".encode()

    return answer


def serve(
    address: str, port: int, routes: dict[str, Callable[[], tuple[int, str, bytes]]]
) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((address, port), _handler(routes))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True).start()
    return server


def serve_health(address: str, port: int, health: Health) -> ThreadingHTTPServer:
    return serve(address, port, {"/healthz": _check(health.live), "/readyz": _check(health.ready)})


def serve_metrics(address: str, port: int, registry: CollectorRegistry) -> ThreadingHTTPServer:
    def metrics() -> tuple[int, str, bytes]:
        return 200, CONTENT_TYPE_LATEST, generate_latest(registry)

    return serve(address, port, {"/metrics": metrics})
