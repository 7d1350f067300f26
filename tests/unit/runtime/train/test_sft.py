"""Real sft runs on the tiny model: it learns, adapters change, resume continues at the saved step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.train.run import run_training

pytestmark = pytest.mark.slow


def _config(tiny_model: Path, demo_data: Path, output: Path, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "model_name_or_path": str(tiny_model),
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": 8,
        "dataset": "identity",
        "dataset_dir": str(demo_data),
        "template": "qwen",
        "cutoff_len": 128,
        "max_samples": 32,
        "output_dir": str(output),
        "per_device_train_batch_size": 4,
        "learning_rate": 1e-2,
        "max_steps": 24,
        "logging_steps": 4,
        "save_steps": 1000,
        "disable_gradient_checkpointing": True,
        "report_to": "none",
        "seed": 7,
        "plot_loss": True,
    }
    values.update(overrides)
    return validate_config(values)


def _log(output: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (output / "trainer_log.jsonl").read_text().splitlines()]


def _tensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path))


def test_lora_run_learns_and_changes_only_the_adapter(
    tiny_model: Path, demo_data: Path, tmp_path: Path
) -> None:
    output = tmp_path / "lora"
    run_training(_config(tiny_model, demo_data, output))

    log = _log(output)
    assert {"current_steps", "total_steps", "loss", "lr", "epoch", "percentage", "elapsed_time",
            "remaining_time", "throughput", "total_tokens"} <= set(log[0])  # fmt: skip
    losses = [entry["loss"] for entry in log if "loss" in entry]
    assert losses[-1] < losses[0] - 0.3, f"loss did not fall: {losses}"

    adapter = _tensors(output / "adapter_model.safetensors")
    lora_b = [t for name, t in adapter.items() if "lora_B" in name]
    assert lora_b and all(t.abs().sum() > 0 for t in lora_b), "LoRA B starts at zero and must have moved"
    base = _tensors(tiny_model / "model.safetensors")
    assert not any("lora" in name for name in base)
    assert (output / "training_loss.png").stat().st_size > 1000
    assert (output / "tokenizer_config.json").exists()
    progress = json.loads((output / "progress.json").read_text())
    assert progress["step"] == progress["totalSteps"] == 24
    assert progress["loss"] == losses[-1]


def test_full_finetuning_changes_the_base_weights(tiny_model: Path, demo_data: Path, tmp_path: Path) -> None:
    output = tmp_path / "full"
    run_training(
        _config(tiny_model, demo_data, output, finetuning_type="full", max_steps=6, learning_rate=1e-3)
    )
    before = _tensors(tiny_model / "model.safetensors")
    after = _tensors(output / "model.safetensors")
    name = "model.layers.0.mlp.down_proj.weight"
    assert not before[name].equal(after[name])


def test_resume_continues_at_the_saved_step(
    tiny_model: Path, demo_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    output = tmp_path / "resume"
    run_training(_config(tiny_model, demo_data, output, max_steps=8, save_steps=4))
    first_run_lines = len(_log(output))
    assert sorted(p.name for p in output.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-8"]
    # as if killed before its completion record: the run is not complete, so a longer one resumes it
    # (a completed run is never extended in place: see test_completion.py)
    (output / "kubefactory-run-complete.json").unlink()
    cut_off = output / "checkpoint-12"  # a save cut off by a crash: weights but no trainer state
    cut_off.mkdir()
    (cut_off / "adapter_model.safetensors").write_bytes(b"partial")

    caplog.set_level("INFO")
    run_training(_config(tiny_model, demo_data, output, max_steps=16, save_steps=4))

    assert "ignoring incomplete checkpoint" in caplog.text and "checkpoint-12" in caplog.text
    assert "resuming from" in caplog.text and "checkpoint-8" in caplog.text
    second_run = [entry["current_steps"] for entry in _log(output)[first_run_lines:]]
    assert second_run[0] == 12, second_run  # logging every 4 steps: it went on after step 8, not from 0
    state = json.loads((output / "trainer_state.json").read_text())
    assert state["global_step"] == 16


def test_output_dir_with_foreign_files_and_no_checkpoint_is_refused(
    tiny_model: Path, demo_data: Path, tmp_path: Path
) -> None:
    from kubefactory.runtime.train.run_setup import OutputDirError

    output = tmp_path / "used"
    output.mkdir()
    (output / "model.safetensors").write_bytes(b"someone's result")
    with pytest.raises(OutputDirError, match="set overwrite_output_dir: true"):
        run_training(_config(tiny_model, demo_data, output))
    assert (output / "model.safetensors").read_bytes() == b"someone's result"
