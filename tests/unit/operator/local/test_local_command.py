"""`kubefactory run` refuses what only a cluster can run before anything runs, naming every field."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubefactory.operator.local.command import main

QUICKSTART = Path(__file__).resolve().parents[4] / "examples" / "quickstart"


def test_every_cluster_only_field_is_named_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sets = ["FineTuneJob/identity-lora:spec.resources.nodes=4", "ModelServer/identity:spec.engine=vllm"]
    args = ["-f", str(QUICKSTART), "--workdir", str(tmp_path), *(a for s in sets for a in ("--set", s))]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "FineTuneJob/identity-lora: spec.resources.nodes: 4 nodes" in err and "--scale-down" in err
    assert "ModelServer/identity: spec.engine: vllm" in err
    assert not (tmp_path / "default").exists()  # nothing was prepared, fetched or trained


def test_a_server_not_started_is_not_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["-f", str(QUICKSTART), "--workdir", str(tmp_path), "--no-serve"]
    args += ["--set", "ModelServer/identity:spec.engine=vllm"]
    assert main(args) == 1  # the Dataset's ConfigMap is missing: the first thing that runs says so
    assert "ConfigMap identity-data not found" in capsys.readouterr().err
