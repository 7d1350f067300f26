"""Fixtures of the training tests. Helpers are handed out as one fixture, `runs`, so that the tests
import nothing from this folder (any pytest import mode works):

    runs.short_run(...)        a few-step config on the tiny model for a stage
    runs.log_of / history / series / tensors / results    what a run left in output_dir
    runs.write_config / kubefactory_train / free_port      `kubefactory train` as a child process
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from kubefactory.runtime.config import TrainConfig, validate_config

STAGE_DATA = {
    "pt": "c4_demo",
    "sft": "alpaca_en_demo",
    "rm": "dpo_en_demo",
    "dpo": "dpo_en_demo",
    "kto": "kto_en_demo",
}


def short_run(
    tiny_model: Path, demo_data: Path, output: Path, stage: str = "sft", **overrides: Any
) -> TrainConfig:
    """A few steps on the tiny model with a high learning rate: enough to see it learn."""
    values: dict[str, Any] = {
        "model_name_or_path": str(tiny_model),
        "stage": stage,
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": STAGE_DATA[stage],
        "dataset_dir": str(demo_data),
        "template": "qwen",
        "cutoff_len": 128,
        "max_samples": 32,
        "output_dir": str(output),
        "per_device_train_batch_size": 4,
        "learning_rate": 5e-3,
        "max_steps": 12,
        "logging_steps": 2,
        "save_steps": 1000,
        "disable_gradient_checkpointing": True,
        "report_to": "none",
        "seed": 7,
    }
    values.update(overrides)
    return validate_config(values)


def log_of(output: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (output / "trainer_log.jsonl").read_text().splitlines()]


def history(output: Path) -> list[dict[str, Any]]:
    return json.loads((output / "trainer_state.json").read_text())["log_history"]


def series(output: Path, key: str) -> list[float]:
    return [entry[key] for entry in history(output) if key in entry]


def tensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path))


def results(output: Path) -> dict[str, Any]:
    return json.loads((output / "all_results.json").read_text())


def write_config(path: Path, config: Any) -> Path:
    path.write_text(yaml.safe_dump(config.model_dump(exclude_unset=True)))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kubefactory_train(
    config_file: Path, env: dict[str, str] | None = None, program: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m kubefactory.runtime.cli train <file>` (or `program` with the file), one thread per process."""
    child_env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID", "FORCE_TORCHRUN", "NNODES"):
        if env is None or name not in env:
            child_env.pop(name, None)
    command = [sys.executable, *(program or ["-m", "kubefactory.runtime.cli", "train"]), str(config_file)]
    return subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def runs() -> SimpleNamespace:
    return SimpleNamespace(
        short_run=short_run, log_of=log_of, history=history, series=series, tensors=tensors, results=results,
        write_config=write_config, kubefactory_train=kubefactory_train, free_port=free_port,
        STAGE_DATA=STAGE_DATA,
    )  # fmt: skip
