"""Every training YAML in examples/ loads, validates and passes the stage rules; those that can run
on a CPU run two steps on the tiny model (model_name_or_path and data paths overridden)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.config import load_config
from kubefactory.runtime.launch.deepspeed import resolve_deepspeed, zero_stage
from kubefactory.runtime.train.rules import check_stage_config
from kubefactory.runtime.train.run import run_training

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
TRAINING_YAMLS = sorted(EXAMPLES.glob("train_*/*.yaml"))
# What a CPU cannot run: sharding needs torchrun plus DeepSpeed or several devices, QLoRA a GPU.
NEEDS_MORE = ("deepspeed", "fsdp", "quantization_bit")


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _overrides(tiny_model: Path, demo_data: Path, output: Path) -> list[str]:
    return [
        f"model_name_or_path={tiny_model}", f"dataset_dir={demo_data}", f"output_dir={output}",
        "max_samples=8", "cutoff_len=64", "max_steps=2", "per_device_train_batch_size=2",
        "gradient_accumulation_steps=1", "preprocessing_num_workers=1", "dataloader_num_workers=0",
        "bf16=false", "logging_steps=1", "save_steps=100", "eval_steps=1", "max_new_tokens=4",
    ]  # fmt: skip


def test_there_is_an_example_for_every_stage_and_method() -> None:
    configs = [load_config(path) for path in TRAINING_YAMLS]
    assert {c.stage for c in configs} >= {"pt", "sft", "rm", "dpo", "kto"}
    assert {c.finetuning_type for c in configs} >= {"lora", "freeze", "full"}
    assert {c.pref_loss for c in configs if c.stage == "dpo"} >= {"sigmoid", "simpo"}


@pytest.mark.parametrize("path", TRAINING_YAMLS, ids=_name)
def test_example_validates(path: Path, tiny_model: Path, demo_data: Path, tmp_path: Path) -> None:
    config = load_config(path, _overrides(tiny_model, demo_data, tmp_path))
    assert config.model_name_or_path == str(tiny_model)
    check_stage_config(config, zero_stage(resolve_deepspeed(config.deepspeed)))


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", [p for p in TRAINING_YAMLS if not any(k in p.read_text() for k in NEEDS_MORE)], ids=_name
)
def test_example_runs_two_steps(
    path: Path, tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    overrides = _overrides(tiny_model, demo_data, tmp_path / "out")
    config = load_config(path, overrides)
    if config.adapter_paths:  # the predict example reads an adapter trained by the sft example
        overrides.append(f"adapter_name_or_path={_trained_adapter(tiny_model, tmp_path / 'adapter')}")
        config = load_config(path, overrides)
    run_training(config)
    out = tmp_path / "out"
    if config.do_train:
        assert runs.log_of(out)[-1]["current_steps"] == 2
        assert (
            out / ("adapter_model.safetensors" if config.finetuning_type == "lora" else "model.safetensors")
        ).is_file()
    if config.do_predict:
        assert (out / "generated_predictions.jsonl").is_file() and "predict_bleu-4" in runs.results(out)


def _trained_adapter(base: Path, folder: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).save_pretrained(str(folder))
    return folder
