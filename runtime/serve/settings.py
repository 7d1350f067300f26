"""API server settings from the environment, with LLaMA-Factory's variable names and defaults,
plus the limits that keep one client from stalling or exhausting the server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..contract.names import SERVER_DRAIN_SECONDS
from ..errors import UserError

DEFAULT_MODEL_NAME = "gpt-3.5-turbo"  # LLaMA-Factory's default for API_MODEL_NAME


@dataclass(frozen=True)
class ApiSettings:
    host: str = "0.0.0.0"
    port: int = 8000
    api_key: str | None = None
    model_name: str = DEFAULT_MODEL_NAME
    max_batch_size: int = 32
    # limits (a request beyond one is answered 413 or 400 before any work is done for it)
    max_body_bytes: int = 2 * 1024 * 1024  # 2 MiB: ~500k tokens of text, far above any context
    max_messages: int = 1024
    max_stop: int = 16  # OpenAI itself allows 4
    max_stop_chars: int = 256
    max_n: int = 16
    threads: int | None = None  # torch intra-op threads; None: default_threads()
    drain_timeout_s: int = SERVER_DRAIN_SECONDS  # SIGTERM: requests in flight get this long to finish


_LIMITS = {
    "API_MAX_BODY_BYTES": ("max_body_bytes", 1024, 1 << 31),
    "API_MAX_MESSAGES": ("max_messages", 1, 1 << 20),
    "API_MAX_STOP": ("max_stop", 0, 4096),
    "API_MAX_STOP_CHARS": ("max_stop_chars", 1, 1 << 20),
    "API_MAX_N": ("max_n", 1, 128),
    "API_DRAIN_TIMEOUT": ("drain_timeout_s", 0, 86400),
}


def settings_from_env(env: Mapping[str, str]) -> ApiSettings:
    """API_HOST, API_PORT, API_KEY, API_MODEL_NAME as in LLaMA-Factory; API_MAX_BATCH_SIZE bounds
    how many sequences the built-in engine decodes at once; API_MAX_* are the request limits,
    API_NUM_THREADS the torch threads and API_DRAIN_TIMEOUT the grace period on SIGTERM."""
    limits = {
        field: _int(env, name, getattr(ApiSettings, field), low, high)
        for name, (field, low, high) in _LIMITS.items()
    }
    threads = _int(env, "API_NUM_THREADS", 0, 1, 1024) if env.get("API_NUM_THREADS") else None
    return ApiSettings(
        host=env.get("API_HOST") or ApiSettings.host,
        port=_int(env, "API_PORT", ApiSettings.port, 1, 65535),
        api_key=env.get("API_KEY") or None,
        model_name=env.get("API_MODEL_NAME") or DEFAULT_MODEL_NAME,
        max_batch_size=_int(env, "API_MAX_BATCH_SIZE", ApiSettings.max_batch_size, 1, 4096),
        threads=threads,
        **limits,
    )


def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> float:
    """CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota (a pod's limit)."""
    cpus: float = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = (cgroup_root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, int(quota) / int(period))
    except (OSError, ValueError):
        pass
    return cpus


def default_threads(cpus: float) -> int:
    """Torch intra-op threads when API_NUM_THREADS is unset: half the CPUs the process may use
    (at least 1). Measured in docs/benchmarks.md: with every core, a CPU-busy neighbour made
    throughput collapse and p99 latency explode; half leaves room for the event loop, tokenizing
    and neighbours at little cost on a quiet machine."""
    return max(1, int(cpus) // 2)


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name}: expected a whole number from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise UserError(f"{name}: expected a whole number from {low} to {high}, got {value}")
    return value
