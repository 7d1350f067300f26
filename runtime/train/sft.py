"""Supervised fine-tuning, top to bottom: setup → train → save → evaluate → predict."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..data.collator import PaddingCollator
from ..model.attention import use_varlen_sdpa
from .batching import PaddingFreeCollator, supports_padding_free
from .optim import optimizers_for
from .recipe import Run, build_model, callbacks_for, evaluate, start, train

if TYPE_CHECKING:
    from ..config import TrainConfig

log = logging.getLogger(__name__)


def run_sft(config: TrainConfig) -> None:
    from .trainers.base import KubeTrainer

    run = start(config)
    model = build_model(config, run)
    generating = config.predict_with_generate
    trainer = KubeTrainer(
        model=model,
        args=run.args,
        train_dataset=run.data.train_dataset if config.do_train else None,
        eval_dataset=None if generating else run.data.eval_dataset,
        data_collator=training_collator(config, run, model),
        eval_collator=padded_collator(config, run),
        processing_class=run.tokenizer,
        callbacks=callbacks_for(config),
        optimizers=optimizers_for(model, run.args, config),
        **accuracy_metrics(config),
    )
    if config.do_train:
        train(trainer, run, plot_keys=("loss", "eval_loss", "eval_accuracy"))
    if generating:
        generate_and_score(trainer, run)
    else:
        evaluate(trainer, run)


def training_collator(config: TrainConfig, run: Run, model: Any) -> Any:
    """Padding-free unless rows are packed (already full) or the model cannot take it."""
    if config.packing or config.neat_packing:
        return padded_collator(config, run)
    if supports_padding_free(model.config):
        if use_varlen_sdpa(model):
            log.info("padding-free batches with per-example SDPA attention")
        return PaddingFreeCollator()
    log.info(
        "padding to the longest row: %s attention cannot take padding-free batches",
        model.config._attn_implementation,
    )
    return padded_collator(config, run)


def padded_collator(config: TrainConfig, run: Run) -> PaddingCollator:
    """Rows padded to the longest; neat-packed rows get a block-diagonal mask in the compute dtype."""
    from ..model.loader import compute_dtype

    pad_id = int(run.tokenizer.pad_token_id)
    return PaddingCollator(pad_id, block_diagonal=config.neat_packing, mask_dtype=compute_dtype(config))


def accuracy_metrics(config: TrainConfig) -> dict[str, Any]:
    """compute_accuracy: next-token accuracy on the answers, from argmax ids (not whole logits)."""
    if not config.compute_accuracy:
        return {}
    from .metrics import token_accuracy

    def argmax(logits: Any, labels: Any) -> Any:
        return (logits[0] if isinstance(logits, (list, tuple)) else logits).argmax(dim=-1)

    def metrics(prediction: Any) -> dict[str, float]:
        return token_accuracy(prediction.predictions, prediction.label_ids)

    return {"compute_metrics": metrics, "preprocess_logits_for_metrics": argmax}


def generate_and_score(trainer: Any, run: Run) -> None:
    """predict_with_generate: do_eval scores generations (eval_*), do_predict also writes them."""
    from .artifacts import save_metrics
    from .predict import predict_with_generate

    data = run.data.eval_dataset
    if data is None:
        return
    datasets = data if isinstance(data, dict) else {"": data}
    model = trainer.accelerator.unwrap_model(trainer.model)
    for split, write in (("eval", False), ("predict", True)):
        if not (run.config.do_eval if split == "eval" else run.config.do_predict):
            continue
        metrics: dict[str, float] = {}
        for name, dataset in datasets.items():
            prefix = f"{split}_{name}" if name else split
            metrics.update(
                predict_with_generate(
                    model, run.tokenizer, dataset, run.config, run.output_dir, prefix, write and not name
                )
            )
        trainer.log_metrics(split, metrics)
        save_metrics(run.output_dir, split, metrics, run.is_main)
