"""A YAML written for `llamafactory-cli train` runs unchanged; key=value overrides apply on top."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# The shape of LLaMA-Factory's own examples/train_lora/*_lora_sft.yaml, keys and values as users write them.
LLAMAFACTORY_YAML = """\
### model
model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct
trust_remote_code: true

### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all

### dataset
dataset: identity,alpaca_en_demo
template: qwen
cutoff_len: 2048
max_samples: 1000
overwrite_cache: true
preprocessing_num_workers: 16
dataloader_num_workers: 4

### output
output_dir: saves/qwen2_5-0_5b/lora/sft
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true
save_only_model: false
report_to: none  # choices: [none, wandb, tensorboard, swanlab, mlflow]

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
ddp_timeout: 180000000
resume_from_checkpoint: null
"""


def test_llamafactory_yaml_trains_with_overrides(tmp_path: Path, tiny_model: Path, demo_data: Path) -> None:
    config = tmp_path / "qwen2_5_lora_sft.yaml"
    config.write_text(LLAMAFACTORY_YAML)
    output = tmp_path / "out"
    overrides = [
        f"model_name_or_path={tiny_model}",  # local paths instead of hub ids: nothing is downloaded
        f"dataset_dir={demo_data}",
        f"output_dir={output}",
        "max_steps=3",
        "logging_steps=1",
        "max_samples=8",
        "bf16=false",  # this CPU run; the rest of the file stays as LLaMA-Factory users wrote it
        "dataloader_num_workers=0",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "kubefactory.runtime.cli", "train", str(config), *overrides],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    log = [json.loads(line) for line in (output / "trainer_log.jsonl").read_text().splitlines()]
    assert [entry["current_steps"] for entry in log if "loss" in entry] == [1, 2, 3]
    assert log[0]["total_steps"] == 3
    assert (output / "adapter_model.safetensors").exists()
    assert (output / "training_loss.png").exists()
    rates = [entry["lr"] for entry in log if "loss" in entry]
    assert rates[0] < rates[1] > rates[2], rates  # warmup_ratio was understood: warm up, then cosine decay
