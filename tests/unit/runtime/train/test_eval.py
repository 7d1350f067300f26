"""Evaluation while and after training, token accuracy, and generated predictions with BLEU/ROUGE."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.train.metrics import mean_similarity
from kubefactory.runtime.train.run import run_training

pytestmark = pytest.mark.slow


def test_val_size_evaluates_during_training_with_accuracy(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    config = runs.short_run(
        tiny_model, demo_data, tmp_path, dataset="identity", val_size=8, do_eval=True, eval_strategy="steps",
        eval_steps=4, per_device_eval_batch_size=4, compute_accuracy=True, plot_loss=True, max_steps=8,
    )  # fmt: skip
    run_training(config)
    evals = [entry for entry in runs.log_of(tmp_path) if "eval_loss" in entry]
    assert [entry["current_steps"] for entry in evals] == [4, 8, 8]  # during training, then do_eval
    assert evals[1]["eval_loss"] < evals[0]["eval_loss"]
    final = runs.results(tmp_path)
    assert 0 <= final["eval_accuracy"] <= 1 and "train_loss" in final
    assert (tmp_path / "training_eval_loss.png").is_file() and (
        tmp_path / "training_eval_accuracy.png"
    ).is_file()


def test_predict_with_generate_writes_predictions_and_scores(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    config = runs.short_run(
        tiny_model, demo_data, tmp_path, do_train=False, dataset=None, eval_dataset="identity", max_samples=5,
        do_predict=True, do_eval=True, predict_with_generate=True, max_new_tokens=6, do_sample=False,
        per_device_eval_batch_size=2,
    )  # fmt: skip
    run_training(config)
    lines = [json.loads(line) for line in (tmp_path / "generated_predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 5 and set(lines[0]) == {"prompt", "predict", "label"}
    rows = json.loads((demo_data / "identity.json").read_text())[:5]
    # in dataset order; the label is the answer as templated (qwen ends it with <|im_end|> and a newline)
    assert [line["label"] for line in lines] == [row["output"] + "\n" for row in rows]
    assert "<|im_start|>user" in lines[0]["prompt"] and lines[0]["prompt"].endswith("<|im_start|>assistant\n")
    final = runs.results(tmp_path)
    expected = mean_similarity([line["predict"] for line in lines], [line["label"] for line in lines])
    for key, value in expected.items():
        assert final[f"predict_{key}"] == pytest.approx(value)
        assert final[f"eval_{key}"] == pytest.approx(value)  # greedy: the same generations


def test_rm_predictions_score_each_answer(
    tiny_model: Path, demo_data: Path, tmp_path: Path, runs: Any
) -> None:
    config = runs.short_run(
        tiny_model, demo_data, tmp_path, "rm", max_steps=4, val_size=6, do_eval=True, do_predict=True
    )
    run_training(config)
    lines = [json.loads(line) for line in (tmp_path / "generated_predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and all(set(line) == {"chosen", "rejected"} for line in lines)
    accuracy = sum(line["chosen"] > line["rejected"] for line in lines) / 6
    assert runs.results(tmp_path)["predict_accuracy"] == pytest.approx(
        accuracy, abs=0.2
    )  # scores are rounded to 0.01
