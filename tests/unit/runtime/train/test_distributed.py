"""Two processes under torchrun (gloo, CPU) with batch B train exactly like one process with 2B, and a
killed two-process run resumes to exactly its end and then stays finished."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

KILLER = Path(__file__).with_name("kill_after_step.py")
# Same examples per step, same seed, gradients averaged across ranks: only the order of float
# additions differs, which moves the loss in the 6th or 7th digit.
TOLERANCE = 1e-4
# 64 rows, 4 a step: 16 steps an epoch, so the end (step 8) falls inside an epoch.
SETTINGS = {
    "dataset": "alpaca_en_demo",
    "max_samples": 64,
    "max_steps": 8,
    "logging_steps": 1,
    "save_steps": 4,
}


def _settings(runs: Any, tiny_model: Path, demo_data: Path, output: Path, batch: int) -> Path:
    config = runs.short_run(tiny_model, demo_data, output, per_device_train_batch_size=batch, **SETTINGS)
    return runs.write_config(output.with_name(f"{output.name}.yaml"), config)


def _torchrun(runs: Any) -> dict[str, str]:
    return {"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2", "MASTER_PORT": str(runs.free_port())}


@pytest.fixture(scope="module")
def one(tiny_model: Path, demo_data: Path, tmp_path_factory: pytest.TempPathFactory, runs: Any) -> Path:
    """The reference: one process with a batch of 4."""
    output = tmp_path_factory.mktemp("single") / "one"
    single = runs.kubefactory_train(_settings(runs, tiny_model, demo_data, output, 4))
    assert single.returncode == 0, single.stderr[-3000:]
    return output


def test_two_processes_match_one_with_twice_the_batch(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any, one: Path
) -> None:
    two = tmp_path / "two"
    launched = runs.kubefactory_train(_settings(runs, tiny_model, demo_data, two, 2), env=_torchrun(runs))
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert "torch.distributed.run" in launched.stderr and "--nproc-per-node 2" in launched.stderr

    curve_one, curve_two = runs.log_of(one), runs.log_of(two)
    assert [e["current_steps"] for e in curve_two] == [e["current_steps"] for e in curve_one]
    for a, b in zip(curve_one[:-1], curve_two[:-1], strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=TOLERANCE), (a, b)
        assert b["lr"] == a["lr"]
        assert b["total_tokens"] == a["total_tokens"]  # every rank's tokens are counted once
    assert all((two / f"checkpoint-{s}" / "kubefactory-complete.json").is_file() for s in (4, 8))


def test_a_killed_torchrun_run_resumes_to_exactly_the_end_and_stays_finished(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any, one: Path
) -> None:
    two = tmp_path / "two"
    settings = _settings(runs, tiny_model, demo_data, two, 2)
    for when, complete in [
        ("save:8", [4]),  # both ranks killed while saving the last checkpoint
        ("record", [4, 8]),  # resumed from 4; rank 0 killed after the final save, before the record
    ]:
        port = str(runs.free_port())
        torchrun = ["-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2"]
        program = [*torchrun, "--master-addr", "127.0.0.1", "--master-port", port, str(KILLER), when]
        killed = runs.kubefactory_train(settings, program=program)
        assert killed.returncode != 0, (when, killed.stderr[-2000:])
        found = [p for p in two.glob("checkpoint-*") if (p / "kubefactory-complete.json").is_file()]
        assert sorted(int(p.name.split("-")[1]) for p in found) == complete, when
        assert not (two / "kubefactory-run-complete.json").exists(), when

    final = runs.kubefactory_train(settings, env=_torchrun(runs))  # resumed at the end on both ranks
    assert final.returncode == 0, final.stderr[-3000:]
    assert "nothing left to train" in final.stderr
    assert sorted(p.name for p in two.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-8"]
    assert json.loads((two / "kubefactory-run-complete.json").read_text())["step"] == 8
    assert json.loads((two / "trainer_state.json").read_text())["global_step"] == 8
    log = runs.log_of(two)
    assert all(e["current_steps"] <= e["total_steps"] == 8 and e["percentage"] <= 100 for e in log), log
    final_loss = {e["current_steps"]: e["loss"] for e in log if "loss" in e}[8]
    reference = {e["current_steps"]: e["loss"] for e in runs.log_of(one) if "loss" in e}[8]
    assert final_loss == pytest.approx(reference, rel=TOLERANCE)

    adapter = (two / "adapter_model.safetensors").read_bytes()
    again = runs.kubefactory_train(settings, env=_torchrun(runs))
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.strip() == f"run already complete at step 8; result in {two} (nothing to train)"
    assert "torch.distributed.run" not in again.stderr  # decided before launching any worker
    assert (two / "adapter_model.safetensors").read_bytes() == adapter
