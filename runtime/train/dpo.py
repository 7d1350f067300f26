"""Preference optimisation: dpo with pref_loss sigmoid, hinge, ipo or kto_pair against a
reference model, or the reference-free orpo and simpo; pref_ftx adds an sft loss."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..data.collator import PairwiseCollator
from .losses import PreferenceLoss
from .optim import optimizers_for
from .recipe import build_model, callbacks_for, evaluate, reference_model, start, train

if TYPE_CHECKING:
    from ..config import TrainConfig


def preference_loss_of(config: TrainConfig) -> PreferenceLoss:
    return PreferenceLoss(
        kind=config.pref_loss,
        beta=config.pref_beta,
        label_smoothing=config.dpo_label_smoothing,
        simpo_gamma=config.simpo_gamma,
        ftx=config.pref_ftx,
    )


def run_dpo(config: TrainConfig) -> None:
    from .trainers.preference import PreferenceTrainer

    loss = preference_loss_of(config)
    run = start(config, label_names=[])
    model = build_model(config, run)
    trainer = PreferenceTrainer(
        model=model,
        args=run.args,
        train_dataset=run.data.train_dataset if config.do_train else None,
        eval_dataset=run.data.eval_dataset,
        data_collator=PairwiseCollator(int(run.tokenizer.pad_token_id)),
        processing_class=run.tokenizer,
        callbacks=callbacks_for(config),
        optimizers=optimizers_for(model, run.args, config),
        loss=loss,
        ref_model=reference_model(config, run) if loss.uses_reference else None,
    )
    if config.do_train:
        train(trainer, run, plot_keys=("loss", "rewards/accuracies", "eval_loss"))
    evaluate(trainer, run)
