"""Pre-training (continued): next-token prediction on plain text; perplexity at evaluation."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .artifacts import save_metrics
from .optim import optimizers_for
from .recipe import build_model, callbacks_for, evaluate, start, train
from .sft import padded_collator, training_collator

if TYPE_CHECKING:
    from ..config import TrainConfig


def run_pt(config: TrainConfig) -> None:
    from .trainers.base import KubeTrainer

    run = start(config)
    model = build_model(config, run)
    trainer = KubeTrainer(
        model=model,
        args=run.args,
        train_dataset=run.data.train_dataset if config.do_train else None,
        eval_dataset=run.data.eval_dataset,
        data_collator=training_collator(config, run, model),
        eval_collator=padded_collator(config, run),
        processing_class=run.tokenizer,
        callbacks=callbacks_for(config),
        optimizers=optimizers_for(model, run.args, config),
    )
    if config.do_train:
        train(trainer, run)
    metrics = evaluate(trainer, run)
    perplexities = {
        key.removesuffix("_loss") + "_perplexity": _perplexity(value)
        for key, value in metrics.items()
        if key.endswith("_loss")
    }
    if perplexities:
        trainer.log_metrics("eval", perplexities)
        save_metrics(run.output_dir, "eval", {**metrics, **perplexities}, run.is_main)


def _perplexity(loss: float) -> float:
    try:
        return math.exp(loss)
    except OverflowError:
        return float("inf")
