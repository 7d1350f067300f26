"""Kill a run (SIGKILL) at any point, rerun the same command: it resumes at the saved step with the same
learning-rate schedule and data order, ends exactly where an uninterrupted run ends, and once it is
complete a rerun changes nothing."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

KILLER = Path(__file__).with_name("kill_after_step.py")
RECORD = "kubefactory-run-complete.json"
# Resuming restores weights, optimizer, scheduler, RNG and the position in the data exactly; what is
# left is float noise.
TOLERANCE = 1e-5
# 32 identity rows in batches of 4: 8 steps an epoch; 12 steps end in the middle of the second epoch,
# where the Trainer, resumed at the end, used to take a 13th step.
SETTINGS = {
    "dataset": "identity", "max_steps": 12, "save_steps": 4, "logging_steps": 1,
    "lr_scheduler_type": "cosine", "warmup_steps": 2,
}  # fmt: skip


def _by_step(output: Path, runs: Any) -> dict[int, dict[str, float]]:
    """The last log line of each step (a resumed run logs again the steps the killed run had logged)."""
    return {entry["current_steps"]: entry for entry in runs.log_of(output) if "loss" in entry}


def _complete_checkpoints(output: Path) -> list[str]:
    found = [p for p in output.glob("checkpoint-*") if (p / "kubefactory-complete.json").is_file()]
    return sorted((p.name for p in found), key=lambda name: int(name.split("-")[1]))


def _config_file(runs: Any, tiny_model: Path, demo_data: Path, output: Path, **settings: Any) -> Path:
    config = runs.short_run(tiny_model, demo_data, output, **settings)
    return runs.write_config(output.with_name(f"{output.name}.yaml"), config)


@pytest.fixture(scope="module")
def uninterrupted(
    tiny_model: Path, demo_data: Path, tmp_path_factory: pytest.TempPathFactory, runs: Any
) -> Path:
    """One run of SETTINGS to its end, untouched (tests copy it before they rerun over it)."""
    output = tmp_path_factory.mktemp("uninterrupted") / "whole"
    done = runs.kubefactory_train(_config_file(runs, tiny_model, demo_data, output, **SETTINGS))
    assert done.returncode == 0, done.stderr[-3000:]
    return output


def _assert_ends_like(cut: Path, whole: Path, runs: Any, end: int) -> None:
    """Ended exactly at `end`, never logged past 100%, with the uninterrupted run's loss and weights."""
    assert (
        _complete_checkpoints(cut)[-1] == f"checkpoint-{end}" and not (cut / f"checkpoint-{end + 1}").exists()
    )
    assert json.loads((cut / "trainer_state.json").read_text())["global_step"] == end
    assert json.loads((cut / RECORD).read_text())["step"] == end
    for entry in runs.log_of(cut):
        assert entry["current_steps"] <= entry["total_steps"] == end and entry["percentage"] <= 100, entry
    progress = json.loads((cut / "progress.json").read_text())
    assert progress["step"] == progress["totalSteps"] == end
    expected, resumed = _by_step(whole, runs), _by_step(cut, runs)
    assert sorted(resumed) == sorted(expected) == list(range(1, end + 1))
    assert resumed[end]["loss"] == pytest.approx(expected[end]["loss"], rel=TOLERANCE)
    final_whole = runs.tensors(whole / "adapter_model.safetensors")
    final_cut = runs.tensors(cut / "adapter_model.safetensors")
    assert all(final_cut[name].allclose(final_whole[name], atol=1e-6) for name in final_whole)


def test_sigkill_then_rerun_resumes_and_matches_an_uninterrupted_run(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any, uninterrupted: Path
) -> None:
    cut = tmp_path / "cut"
    settings = _config_file(runs, tiny_model, demo_data, cut, **SETTINGS)
    killed = runs.kubefactory_train(settings, program=[str(KILLER), "6"])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert [p.name for p in cut.glob("checkpoint-*")] == ["checkpoint-4"]
    assert json.loads((cut / "progress.json").read_text())["latestCheckpoint"] == "checkpoint-4"

    rerun = runs.kubefactory_train(settings)  # the same command, again
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming from" in rerun.stderr and "checkpoint-4" in rerun.stderr
    steps = [e["current_steps"] for e in runs.log_of(cut) if "loss" in e]
    restart = next(i for i in range(1, len(steps)) if steps[i] <= steps[i - 1])
    assert steps[:restart] == [1, 2, 3, 4, 5]  # killed during step 6, two steps after checkpoint-4
    assert steps[restart:] == list(range(5, 13))  # it went on after step 4, not from 0

    expected, resumed = _by_step(uninterrupted, runs), _by_step(cut, runs)
    for step in range(5, 13):
        assert resumed[step]["lr"] == expected[step]["lr"], step
    _assert_ends_like(cut, uninterrupted, runs, end=12)


def test_a_completed_run_reruns_as_a_no_op_and_a_changed_config_is_an_error(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any, uninterrupted: Path
) -> None:
    done = tmp_path / "done"
    shutil.copytree(uninterrupted, done)  # a completed run, moved: output_dir does not count
    before = {path.name: path.read_bytes() for path in done.iterdir() if path.is_file()}
    checkpoints = sorted(p.name for p in done.glob("checkpoint-*"))

    rerun = runs.kubefactory_train(_config_file(runs, tiny_model, demo_data, done, **SETTINGS))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.stdout.strip() == f"run already complete at step 12; result in {done} (nothing to train)"
    assert "resuming" not in rerun.stderr and "trainable" not in rerun.stderr  # no model was loaded
    assert sorted(p.name for p in done.glob("checkpoint-*")) == checkpoints
    assert {path.name: path.read_bytes() for path in done.iterdir() if path.is_file()} == before

    changed = runs.kubefactory_train(
        _config_file(runs, tiny_model, demo_data, done, **{**SETTINGS, "learning_rate": 1e-3})
    )
    assert changed.returncode == 1
    assert "holds a completed run (step 12) of a different config" in changed.stderr
    assert "learning_rate (0.005 in the completed run, 0.001 now)" in changed.stderr
    assert {path.name: path.read_bytes() for path in done.iterdir() if path.is_file()} == before


def test_killed_while_saving_and_before_the_record_it_resumes_from_each_checkpoint_to_exactly_the_end(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any, uninterrupted: Path
) -> None:
    cut = tmp_path / "cut"
    settings = _config_file(runs, tiny_model, demo_data, cut, **SETTINGS)
    # (kill point, complete checkpoints after the kill); each run resumes from the last one's newest
    for when, complete in [
        ("save:8", ["checkpoint-4"]),  # checkpoint-8's files written, its marker not
        ("save:12", ["checkpoint-4", "checkpoint-8"]),  # resumed from 4, killed saving the last one
        (
            "record",
            ["checkpoint-4", "checkpoint-8", "checkpoint-12"],
        ),  # resumed from 8; result saved, no record
    ]:
        killed = runs.kubefactory_train(settings, program=[str(KILLER), when])
        assert killed.returncode == -signal.SIGKILL, (when, killed.stderr[-2000:])
        assert _complete_checkpoints(cut) == complete, when
        assert not (cut / RECORD).exists(), when

    final = runs.kubefactory_train(settings)  # resumed at the end: nothing to train, the record is written
    assert final.returncode == 0, final.stderr[-3000:]
    assert "checkpoint-12 is at the end of training (step 12): nothing left to train" in final.stderr
    _assert_ends_like(cut, uninterrupted, runs, end=12)


def test_the_same_with_num_train_epochs(tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any) -> None:
    epochs = {**SETTINGS, "max_steps": -1, "num_train_epochs": 1.5}  # 12 steps again, ending mid-epoch
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert runs.kubefactory_train(_config_file(runs, tiny_model, demo_data, whole, **epochs)).returncode == 0
    settings = _config_file(runs, tiny_model, demo_data, cut, **epochs)
    for when, complete in [
        ("save:12", ["checkpoint-4", "checkpoint-8"]),
        ("record", ["checkpoint-4", "checkpoint-8", "checkpoint-12"]),  # resumed from 8, across the epoch
    ]:
        killed = runs.kubefactory_train(settings, program=[str(KILLER), when])
        assert killed.returncode == -signal.SIGKILL, (when, killed.stderr[-2000:])
        assert _complete_checkpoints(cut) == complete, when

    final = runs.kubefactory_train(settings)
    assert final.returncode == 0, final.stderr[-3000:]
    assert "nothing left to train" in final.stderr
    _assert_ends_like(cut, whole, runs, end=12)
