"""Reward modelling: a value head on the model scores answers; trained so chosen beats rejected.

The value head is saved with the model (in the adapter under LoRA, as a module to save) and, as
LLaMA-Factory does, also on its own in value_head.safetensors (v_head.summary.weight/.bias), in
the output folder and in every checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from ..data.collator import PairwiseCollator
from .artifacts import save_metrics
from .metrics import reward_accuracy
from .optim import optimizers_for
from .recipe import Run, build_model, callbacks_for, evaluate, start, train

if TYPE_CHECKING:
    from ..config import TrainConfig

log = logging.getLogger(__name__)

VALUE_HEAD_FILE = "value_head.safetensors"
PREDICTIONS_FILE = "generated_predictions.jsonl"
_WEIGHT_FILES = ("adapter_model.safetensors", "model.safetensors")


def run_rm(config: TrainConfig) -> None:
    from .trainers.reward import RewardTrainer

    run = start(config, label_names=[])  # no labels: evaluation asks compute_loss for the scores
    model = build_model(config, run, head="value")
    collator = PairwiseCollator(int(run.tokenizer.pad_token_id))
    trainer = RewardTrainer(
        model=model,
        args=run.args,
        train_dataset=run.data.train_dataset if config.do_train else None,
        eval_dataset=run.data.eval_dataset,
        data_collator=collator,
        processing_class=run.tokenizer,
        callbacks=callbacks_for(config, [ValueHeadCallback()]),
        optimizers=optimizers_for(model, run.args, config),
        compute_metrics=lambda prediction: reward_accuracy(*prediction.predictions),
    )
    if config.do_train:
        train(trainer, run, plot_keys=("loss", "eval_loss", "eval_accuracy"))
        if run.is_main:
            save_value_head(Path(run.output_dir))
    evaluate(trainer, run)
    if config.do_predict and run.data.eval_dataset is not None:
        predict_scores(trainer, run)


def value_head_tensors(tensors: dict[str, Any]) -> dict[str, Any]:
    """LLaMA-Factory's value-head keys from saved weights: the token-classification layer `score`
    (under LoRA, the trained copy peft saves for it)."""
    out = {}
    for name, tensor in tensors.items():
        parts = name.split(".")
        if "score" in parts and parts[-1] in ("weight", "bias") and "original_module" not in parts:
            out[f"v_head.summary.{parts[-1]}"] = tensor
    return out


def save_value_head(folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    for name in _WEIGHT_FILES:
        if (folder / name).is_file():
            head = value_head_tensors(load_file(str(folder / name)))
            if head:
                tmp = folder / f".{VALUE_HEAD_FILE}.tmp-{os.getpid()}"
                save_file(head, str(tmp), metadata={"format": "pt"})
                os.replace(tmp, folder / VALUE_HEAD_FILE)
                return
    log.warning("no value head found in the weights saved in %s", folder)


class ValueHeadCallback(TrainerCallback):
    """value_head.safetensors in each checkpoint, before the checkpoint is marked complete."""

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if args.should_save and folder.is_dir():
            save_value_head(folder)


def predict_scores(trainer: Any, run: Run) -> None:
    """do_predict: the score of each chosen and rejected answer, one JSON line per pair."""
    result = trainer.predict(run.data.eval_dataset, metric_key_prefix="predict")
    trainer.log_metrics("predict", result.metrics)
    save_metrics(run.output_dir, "predict", result.metrics, run.is_main)
    if run.is_main:
        chosen, rejected = result.predictions
        lines = [
            json.dumps({"chosen": round(float(c), 2), "rejected": round(float(r), 2)})
            for c, r in zip(chosen, rejected, strict=True)
        ]
        path = Path(run.output_dir) / PREDICTIONS_FILE
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text("\n".join(lines), encoding="utf-8")
        os.replace(tmp, path)
