"""Supervised fine-tuning, top to bottom: setup → train → save → plot."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..data.collator import PaddingCollator
from ..data.pipeline import load_all_examples, tokenize_supervised
from ..data.templates import get_template
from ..data.templates.tokenizer_fix import fix_tokenizer
from ..model.adapters import attach_adapters
from ..model.loader import load_model, load_tokenizer, prepare_for_training
from .callbacks import TrainerLogCallback
from .plot import plot_loss
from .setup import hf_training_arguments, reset_output_dir, resume_point

if TYPE_CHECKING:
    from ..config import TrainConfig

log = logging.getLogger(__name__)


def run_sft(config: TrainConfig) -> None:
    from transformers import Seq2SeqTrainer

    args = hf_training_arguments(config)
    resume = resume_point(config, args.output_dir)
    tokenizer = load_tokenizer(config)
    template = get_template(config.template or _fallback_template())
    fix_tokenizer(tokenizer, template)
    if config.default_system is not None:
        template = _with_system(template, config.default_system)

    train_rows = tokenize_supervised(load_all_examples(config, config.dataset_names), template, tokenizer, config)
    eval_rows = (
        tokenize_supervised(load_all_examples(config, config.eval_dataset_names), template, tokenizer, config)
        if config.eval_dataset_names
        else None
    )
    train_rows, eval_rows = _split_validation(train_rows, eval_rows, config)
    log.info("training on %d examples (%d for evaluation)", len(train_rows), len(eval_rows or []))

    model = load_model(config, tokenizer)
    prepare_for_training(model, config)
    model = attach_adapters(model, config)

    reset_output_dir(config, args.output_dir)
    trainer = Seq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=train_rows if config.do_train else None,  # type: ignore[arg-type]
        eval_dataset=eval_rows,  # type: ignore[arg-type]
        data_collator=PaddingCollator(pad_token_id=int(tokenizer.pad_token_id)),
        processing_class=tokenizer,
        callbacks=[TrainerLogCallback()],
    )
    if config.do_train:
        result = trainer.train(resume_from_checkpoint=resume)
        trainer.save_model()
        tokenizer.save_pretrained(args.output_dir)
        trainer.log_metrics("train", result.metrics)
        trainer.save_metrics("train", result.metrics)
        trainer.save_state()
        if config.plot_loss and trainer.is_world_process_zero():
            plot_loss(args.output_dir)
    if config.do_eval and eval_rows:
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)


def _fallback_template() -> str:
    log.warning("template is not set: using 'empty' (no chat formatting); set template: to match your model")
    return "empty"


def _with_system(template, system: str):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(template, default_system=system)


def _split_validation(
    train_rows: list[dict[str, list[int]]], eval_rows: list[dict[str, list[int]]] | None, config: TrainConfig
) -> tuple[list[dict[str, list[int]]], list[dict[str, list[int]]] | None]:
    if not config.val_size or eval_rows is not None:
        return train_rows, eval_rows
    import random

    count = int(config.val_size) if config.val_size >= 1 else max(1, int(len(train_rows) * config.val_size))
    order = list(range(len(train_rows)))
    random.Random(config.seed).shuffle(order)
    held = set(order[:count])
    return [r for i, r in enumerate(train_rows) if i not in held], [r for i, r in enumerate(train_rows) if i in held]
