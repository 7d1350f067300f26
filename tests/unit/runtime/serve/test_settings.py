"""API_* environment variables, as LLaMA-Factory reads them, with clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.serve.settings import ApiSettings, available_cpus, default_threads, settings_from_env


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ApiSettings("0.0.0.0", 8000, None, "gpt-3.5-turbo", 32)),
        (
            {
                "API_HOST": "127.0.0.1",
                "API_PORT": "9000",
                "API_KEY": "k",
                "API_MODEL_NAME": "tiny",
                "API_MAX_BATCH_SIZE": "4",
            },
            ApiSettings("127.0.0.1", 9000, "k", "tiny", 4),
        ),
        ({"API_KEY": "", "API_PORT": ""}, ApiSettings()),
    ],
)
def test_settings_from_env(env: dict[str, str], expected: ApiSettings) -> None:
    assert settings_from_env(env) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"API_PORT": "http"}, "API_PORT: expected a whole number from 1 to 65535, got 'http'"),
        ({"API_PORT": "70000"}, "API_PORT: expected a whole number from 1 to 65535, got 70000"),
        ({"API_MAX_BATCH_SIZE": "0"}, "API_MAX_BATCH_SIZE: expected a whole number from 1 to 4096, got 0"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as caught:
        settings_from_env(env)
    assert str(caught.value) == message


def test_limits_and_threads_from_env() -> None:
    settings = settings_from_env(
        {
            "API_MAX_BODY_BYTES": "4096",
            "API_MAX_STOP": "2",
            "API_MAX_N": "4",
            "API_NUM_THREADS": "3",
            "API_DRAIN_TIMEOUT": "5",
        }
    )
    assert (settings.max_body_bytes, settings.max_stop, settings.max_n) == (4096, 2, 4)
    assert (settings.threads, settings.drain_timeout_s) == (3, 5)
    assert settings_from_env({}).threads is None  # chosen at start: default_threads(available_cpus())


@pytest.mark.parametrize(("cpus", "threads"), [(1, 1), (1.5, 1), (2, 1), (3, 1), (4, 2), (16, 8), (64, 32)])
def test_default_threads_leave_half_the_cpus(cpus: float, threads: int) -> None:
    assert default_threads(cpus) == threads


@pytest.mark.parametrize(
    ("cpu_max", "expected"), [("max 100000", None), ("150000 100000", 1.5), ("junk", None)]
)
def test_available_cpus_honours_the_cgroup_quota(
    tmp_path: Path, cpu_max: str, expected: float | None
) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    affinity = len(os.sched_getaffinity(0))
    assert available_cpus(tmp_path) == (min(affinity, expected) if expected is not None else affinity)
    assert available_cpus(tmp_path / "missing") == affinity
