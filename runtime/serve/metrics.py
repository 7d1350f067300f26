"""Prometheus metrics of the API server, in a registry of its own (one per app, so tests that
start several apps in one process do not collide)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)
_TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass
class ServerMetrics:
    registry: Any = field(init=False)

    def __post_init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "kubefactory_http_requests",
            "HTTP requests by path and status code.",
            ["path", "status"],
            registry=r,
        )
        self.requests = Counter(
            "kubefactory_chat_requests",
            "Chat completion requests by model and outcome.",
            ["model", "outcome"],
            registry=r,
        )
        self.prompt_tokens = Counter(
            "kubefactory_prompt_tokens", "Prompt tokens processed.", ["model"], registry=r
        )
        self.completion_tokens = Counter(
            "kubefactory_completion_tokens", "Tokens generated.", ["model"], registry=r
        )
        self.latency = Histogram(
            "kubefactory_request_latency_seconds", "Time from request to last token.", ["model"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.ttft = Histogram(
            "kubefactory_time_to_first_token_seconds", "Time from request to the first generated text.", ["model"],
            buckets=_TTFT_BUCKETS, registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "kubefactory_requests_in_flight", "Chat completion requests being served.", registry=r
        )
        self.batch_size = Histogram(
            "kubefactory_engine_batch_size", "Sequences per decoding step of the engine.",
            buckets=_BATCH_BUCKETS, registry=r,
        )  # fmt: skip

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
