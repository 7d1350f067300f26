"""`kubefactory operator` hands every argument to `python -m kubefactory.operator`."""

from __future__ import annotations

import json
import subprocess
import sys


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kubefactory.runtime.cli", "operator", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def test_arguments_reach_the_operator() -> None:
    result = run("--check", "--namespace", "team-a")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["namespaces"] == ["team-a"]


def test_help_is_the_operators() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "usage: kubefactory operator" in result.stdout and "--kubeconfig" in result.stdout


def test_the_runtime_cli_does_not_import_the_operator() -> None:
    code = "import sys, kubefactory.runtime.cli as c; c.build_parser(); print('kubefactory.operator' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False"
