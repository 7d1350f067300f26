"""Two processes under torchrun (gloo, CPU) with batch B train exactly like one process with 2B."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

# Same examples per step, same seed, gradients averaged across ranks: only the order of float
# additions differs, which moves the loss in the 6th or 7th digit.
TOLERANCE = 1e-4


def test_two_processes_match_one_with_twice_the_batch(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    def settings(output: Path, batch: int) -> Path:
        config = runs.short_run(
            tiny_model, demo_data, output, dataset="alpaca_en_demo", max_samples=64, per_device_train_batch_size=batch,
            max_steps=8, logging_steps=1, save_steps=4,
        )  # fmt: skip
        return runs.write_config(tmp_path / f"{output.name}.yaml", config)

    one, two = tmp_path / "one", tmp_path / "two"
    single = runs.kubefactory_train(settings(one, 4))
    assert single.returncode == 0, single.stderr[-3000:]
    launched = runs.kubefactory_train(
        settings(two, 2),
        env={"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2", "MASTER_PORT": str(runs.free_port())},
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert "torch.distributed.run" in launched.stderr and "--nproc-per-node 2" in launched.stderr

    curve_one, curve_two = runs.log_of(one), runs.log_of(two)
    assert [e["current_steps"] for e in curve_two] == [e["current_steps"] for e in curve_one]
    for a, b in zip(curve_one[:-1], curve_two[:-1], strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=TOLERANCE), (a, b)
        assert b["lr"] == a["lr"]
        assert b["total_tokens"] == a["total_tokens"]  # every rank's tokens are counted once
    assert all((two / f"checkpoint-{s}" / "kubefactory-complete.json").is_file() for s in (4, 8))
