"""`kubefactory api` as a user meets it: engine commands, environment errors, light --help."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

NO_TORCH_PROBE = """
import sys
from kubefactory.runtime.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("HEAVY:", ",".join(sorted(m for m in ("torch", "transformers", "peft", "fastapi") if m in sys.modules)))
"""


def _api(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "CUDA_VISIBLE"))}
    return subprocess.run(
        [sys.executable, "-m", "kubefactory.runtime.cli", "api", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **(env or {})},
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "serve.yaml"
    path.write_text(
        "model_name_or_path: /models/base\ntemplate: qwen\nadapter_name_or_path: sql=/saves/sql\n"
    )
    return path


@pytest.mark.parametrize(
    ("backend", "env", "head", "flags"),
    [
        ("sglang", {"CUDA_VISIBLE_DEVICES": "0,1"}, [sys.executable, "-m", "sglang.launch_server"],
         {"--model-path": "/models/base", "--tp-size": "2", "--lora-paths": "sql=/saves/sql", "--port": "8000",
          "--served-model-name": "gpt-3.5-turbo"}),
        ("vllm", {"API_PORT": "9001", "API_MODEL_NAME": "base", "API_KEY": "s3cret"}, ["vllm", "serve", "/models/base"],
         {"--port": "9001", "--served-model-name": "base", "--api-key": "***", "--lora-modules": "sql=/saves/sql",
          "--tensor-parallel-size": "1"}),
    ],
)  # fmt: skip
def test_dry_run_prints_the_engine_command(
    config: Path, backend: str, env: dict[str, str], head: list[str], flags: dict[str, str]
) -> None:
    done = _api("--dry-run", str(config), f"infer_backend={backend}", env=env)
    assert done.returncode == 0, done.stderr
    argv = shlex.split(done.stdout.strip())
    assert argv[: len(head)] == head
    assert {flag: argv[argv.index(flag) + 1] for flag in flags} == flags
    assert "s3cret" not in done.stdout


def test_engines_that_cannot_merge_adapters_say_what_to_do(config: Path) -> None:
    done = _api("--dry-run", str(config), "infer_backend=vllm", "adapter_name_or_path=/saves/sql")
    assert done.returncode == 1
    assert "vllm cannot merge adapters while loading" in done.stderr and "kubefactory export" in done.stderr


@pytest.mark.parametrize(
    ("overrides", "env", "message"),
    [
        ([], {"API_PORT": "eighty"}, "API_PORT: expected a whole number from 1 to 65535, got 'eighty'"),
        (
            ["infer_backend=ktransformers"],
            {},
            "infer_backend: ktransformers is not supported; use huggingface, sglang or vllm",
        ),
    ],
)
def test_bad_settings_are_named(
    config: Path, overrides: list[str], env: dict[str, str], message: str
) -> None:
    done = _api(str(config), *overrides, env=env)
    assert done.returncode == 1
    assert message in done.stderr


@pytest.mark.parametrize("argv", [["api", "--help"], ["chat", "--help"], ["export", "--help"]])
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH_PROBE.format(argv=argv)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY: \n" in done.stdout, done.stdout


def test_dry_run_after_the_config_is_the_flag_not_a_config_key(config: Path) -> None:
    """Finding: `kubefactory api cfg.yaml --dry-run` took --dry-run for a key=value override."""
    done = _api(str(config), "infer_backend=vllm", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert shlex.split(done.stdout.strip())[:3] == ["vllm", "serve", "/models/base"]
