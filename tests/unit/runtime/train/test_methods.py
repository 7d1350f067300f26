"""Fine-tuning methods on real short runs: freeze, LoRA+ groups, continuing and stacking adapters, NEFTune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.train.run import run_training

pytestmark = pytest.mark.slow


def test_freeze_changes_the_last_layer_only(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    config = runs.short_run(
        tiny_model, demo_data, tmp_path, finetuning_type="freeze", freeze_trainable_layers=1,
        freeze_trainable_modules="mlp", freeze_extra_modules="norm", learning_rate=1e-3, max_steps=4,
    )  # fmt: skip
    run_training(config)
    before, after = (
        runs.tensors(tiny_model / "model.safetensors"),
        runs.tensors(tmp_path / "model.safetensors"),
    )
    changed = {name for name in before if not before[name].equal(after[name])}
    assert changed == {"model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight",
                       "model.layers.1.mlp.down_proj.weight", "model.norm.weight"}  # fmt: skip


def test_loraplus_gives_the_b_matrices_a_higher_learning_rate(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    from kubefactory.runtime.model.adapters import attach_adapters
    from kubefactory.runtime.model.loader import load_model, load_tokenizer
    from kubefactory.runtime.train.optim import optimizers_for
    from kubefactory.runtime.train.run_setup import hf_training_arguments

    config = runs.short_run(tiny_model, demo_data, tmp_path, loraplus_lr_ratio=16.0, learning_rate=1e-4)
    model = attach_adapters(load_model(config, load_tokenizer(config)), config)
    optimizer, scheduler = optimizers_for(model, hf_training_arguments(config), config)
    assert scheduler is None
    lr_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    for name, parameter in model.named_parameters():
        if "lora_A" in name:
            assert lr_of[id(parameter)] == pytest.approx(1e-4), name
        elif "lora_B" in name:
            assert lr_of[id(parameter)] == pytest.approx(1.6e-3), name


def test_adapters_continue_or_stack(tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any) -> None:
    first = tmp_path / "first"
    run_training(runs.short_run(tiny_model, demo_data, first, dataset="identity", max_steps=12))
    start = runs.series(first, "loss")[0]

    again = tmp_path / "again"  # adapter_name_or_path: train the same adapter further
    run_training(runs.short_run(tiny_model, demo_data, again, dataset="identity", max_steps=2, logging_steps=1,
                           adapter_name_or_path=str(first)))  # fmt: skip
    assert runs.series(again, "loss")[0] < start - 0.3
    assert (
        runs.tensors(again / "adapter_model.safetensors").keys()
        == runs.tensors(first / "adapter_model.safetensors").keys()
    )

    stacked = tmp_path / "stacked"  # create_new_adapter: merge it, train a new one on top
    run_training(runs.short_run(tiny_model, demo_data, stacked, dataset="identity", max_steps=2, logging_steps=1,
                           adapter_name_or_path=str(first), create_new_adapter=True))  # fmt: skip
    assert runs.series(stacked, "loss")[0] < start - 0.3
    new_b = [t for name, t in runs.tensors(stacked / "adapter_model.safetensors").items() if "lora_B" in name]
    assert new_b and all(
        t.abs().max() < 0.05 for t in new_b
    )  # a fresh adapter: B started at zero two steps ago


def test_neftune_adds_noise_to_the_embeddings_while_training(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    plain, noisy = tmp_path / "plain", tmp_path / "noisy"
    run_training(runs.short_run(tiny_model, demo_data, plain, max_steps=1, logging_steps=1))
    run_training(
        runs.short_run(tiny_model, demo_data, noisy, max_steps=1, logging_steps=1, neftune_noise_alpha=50)
    )
    assert runs.series(plain, "loss")[0] != pytest.approx(runs.series(noisy, "loss")[0], abs=1e-4)
