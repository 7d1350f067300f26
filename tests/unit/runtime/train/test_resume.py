"""Kill a run after a checkpoint (SIGKILL), rerun the same command: it resumes at the saved step
with the same learning-rate schedule and data order, and ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

KILLER = Path(__file__).with_name("kill_after_step.py")
# Resuming restores weights, optimizer, scheduler, RNG and the position in the data exactly; what is
# left is float noise.
TOLERANCE = 1e-5


def _by_step(output: Path, runs: Any) -> dict[int, dict[str, float]]:
    """The last log line of each step (a resumed run logs again the steps the killed run had logged)."""
    return {entry["current_steps"]: entry for entry in runs.log_of(output) if "loss" in entry}


def test_sigkill_then_rerun_resumes_and_matches_an_uninterrupted_run(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    def settings(output: Path) -> Path:
        config = runs.short_run(
            tiny_model, demo_data, output, dataset="identity", max_steps=12, save_steps=4, logging_steps=1,
            lr_scheduler_type="cosine", warmup_steps=2,
        )  # fmt: skip
        return runs.write_config(tmp_path / f"{output.name}.yaml", config)

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert runs.kubefactory_train(settings(whole)).returncode == 0

    killed = runs.kubefactory_train(settings(cut), program=[str(KILLER), "6"])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert [p.name for p in cut.glob("checkpoint-*")] == ["checkpoint-4"]
    assert json.loads((cut / "progress.json").read_text())["latestCheckpoint"] == "checkpoint-4"

    rerun = runs.kubefactory_train(settings(cut))  # the same command, again
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming from" in rerun.stderr and "checkpoint-4" in rerun.stderr
    steps = [e["current_steps"] for e in runs.log_of(cut) if "loss" in e]
    restart = next(i for i in range(1, len(steps)) if steps[i] <= steps[i - 1])
    assert steps[:restart] == [1, 2, 3, 4, 5]  # killed during step 6, two steps after checkpoint-4
    assert steps[restart:] == list(range(5, 13))  # it went on after step 4, not from 0

    expected, resumed = _by_step(whole, runs), _by_step(cut, runs)
    assert sorted(resumed) == sorted(expected) == list(range(1, 13))
    for step in range(5, 13):
        assert resumed[step]["lr"] == expected[step]["lr"], step
        assert resumed[step]["loss"] == pytest.approx(expected[step]["loss"], rel=TOLERANCE), step
    final_whole, final_cut = (
        runs.tensors(whole / "adapter_model.safetensors"),
        runs.tensors(cut / "adapter_model.safetensors"),
    )
    assert all(final_cut[name].allclose(final_whole[name], atol=1e-6) for name in final_whole)
