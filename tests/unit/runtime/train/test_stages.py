"""Every stage trains the tiny model on its demo dataset and learns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.train.run import run_training

pytestmark = pytest.mark.slow


def _lora_b_moved(output: Path, runs: Any) -> bool:
    adapter = runs.tensors(output / "adapter_model.safetensors")
    lora_b = [t for name, t in adapter.items() if "lora_B" in name]
    return bool(lora_b) and all(t.abs().sum() > 0 for t in lora_b)  # B starts at zero


def test_pt_learns_plain_text(tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any) -> None:
    run_training(
        runs.short_run(tiny_model, demo_data, tmp_path, "pt", val_size=4, do_eval=True, learning_rate=3e-2)
    )
    losses = runs.series(tmp_path, "loss")
    assert losses[-1] < losses[0] - 0.3, losses
    assert _lora_b_moved(tmp_path, runs)
    assert runs.results(tmp_path)["eval_perplexity"] > 1


def test_rm_learns_to_score_chosen_above_rejected(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    run_training(runs.short_run(tiny_model, demo_data, tmp_path, "rm", max_steps=16))
    losses = runs.series(tmp_path, "loss")
    assert losses[-1] < losses[0] - 0.2, losses
    assert _lora_b_moved(tmp_path, runs)
    head = runs.tensors(tmp_path / "value_head.safetensors")
    assert set(head) == {"v_head.summary.weight", "v_head.summary.bias"}
    assert head["v_head.summary.weight"].shape == (1, 64)
    checkpoint = tmp_path / "checkpoint-16"
    assert (checkpoint / "value_head.safetensors").is_file() and (
        checkpoint / "kubefactory-complete.json"
    ).is_file()


def test_dpo_raises_reward_accuracy_and_margin(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    run_training(runs.short_run(tiny_model, demo_data, tmp_path, "dpo", max_steps=16, plot_loss=True))
    accuracies, margins, losses = (
        runs.series(tmp_path, k) for k in ("rewards/accuracies", "rewards/margins", "loss")
    )
    assert losses[-1] < losses[0] - 0.2, losses
    assert sum(accuracies[-2:]) / 2 > sum(accuracies[:2]) / 2, accuracies
    assert margins[-1] > margins[0] + 0.5, margins
    assert (tmp_path / "training_rewards_accuracies.png").stat().st_size > 1000
    assert _lora_b_moved(tmp_path, runs)


@pytest.mark.parametrize(
    ("pref_loss", "extra"),
    [
        ("hinge", {}),
        ("ipo", {}),
        ("kto_pair", {}),
        ("sigmoid", {"dpo_label_smoothing": 0.1, "pref_ftx": 0.5}),
        ("orpo", {}),
        ("simpo", {"simpo_gamma": 0.5, "pref_beta": 2.0}),
    ],
)
def test_every_preference_loss_trains(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any, pref_loss: str, extra: dict[str, float]
) -> None:
    config = runs.short_run(
        tiny_model, demo_data, tmp_path, "dpo", pref_loss=pref_loss, max_steps=8, max_samples=16, **extra
    )
    run_training(config)
    losses, margins = runs.series(tmp_path, "loss"), runs.series(tmp_path, "rewards/margins")
    assert losses[-1] < losses[0], losses
    assert margins[-1] > margins[0], margins


def test_kto_learns_from_desirable_and_undesirable_answers(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    run_training(
        runs.short_run(
            tiny_model,
            demo_data,
            tmp_path,
            "kto",
            max_steps=16,
            kto_chosen_weight=1.0,
            kto_rejected_weight=1.5,
        )
    )
    losses = runs.series(tmp_path, "loss")
    assert losses[-1] < losses[0] - 0.1, losses
    margins = runs.series(tmp_path, "rewards/margins")
    assert margins[-1] > margins[0], margins
    assert runs.series(tmp_path, "kl")  # the KL estimate is logged
    assert _lora_b_moved(tmp_path, runs)


def test_dpo_with_an_explicit_reference_model(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    config = runs.short_run(
        tiny_model, demo_data, tmp_path, "dpo", ref_model=str(tiny_model), max_steps=4, logging_steps=1
    )
    run_training(config)
    margins = runs.series(tmp_path, "rewards/margins")
    assert margins[0] == pytest.approx(0.0, abs=1e-6), margins  # the LoRA policy starts as the given model
    assert any(abs(m) > 1e-4 for m in margins[1:]), margins


def test_dpo_with_full_finetuning_uses_a_frozen_copy_as_reference(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    config = runs.short_run(
        tiny_model,
        demo_data,
        tmp_path,
        "dpo",
        finetuning_type="full",
        learning_rate=3e-4,
        max_steps=8,
        logging_steps=1,
    )
    run_training(config)
    margins = runs.series(tmp_path, "rewards/margins")
    assert margins[0] == pytest.approx(0.0, abs=1e-6), margins  # step 1: the policy is still the reference
    assert sum(margins[-4:]) / 4 > 0.01, margins  # later: the policy moved away from the frozen copy
    before, after = (
        runs.tensors(tiny_model / "model.safetensors"),
        runs.tensors(tmp_path / "model.safetensors"),
    )
    assert not before["model.layers.0.mlp.down_proj.weight"].equal(
        after["model.layers.0.mlp.down_proj.weight"]
    )


@pytest.mark.parametrize("packing", [{"packing": True}, {"neat_packing": True}])
def test_sft_with_packed_rows_trains(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any, packing: dict[str, bool]
) -> None:
    run_training(runs.short_run(tiny_model, demo_data, tmp_path, dataset="identity", max_steps=8, **packing))
    losses = runs.series(tmp_path, "loss")
    assert losses[-1] < losses[0], losses
