"""KTO: learn from answers marked desirable or undesirable, without pairs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..data.collator import KTOCollator
from .optim import optimizers_for
from .recipe import build_model, callbacks_for, evaluate, reference_model, start, train

if TYPE_CHECKING:
    from ..config import TrainConfig


def run_kto(config: TrainConfig) -> None:
    from .trainers.feedback import FeedbackTrainer

    run = start(config, label_names=[])
    model = build_model(config, run)
    trainer = FeedbackTrainer(
        model=model,
        args=run.args,
        train_dataset=run.data.train_dataset if config.do_train else None,
        eval_dataset=run.data.eval_dataset,
        data_collator=KTOCollator(int(run.tokenizer.pad_token_id)),
        processing_class=run.tokenizer,
        callbacks=callbacks_for(config),
        optimizers=optimizers_for(model, run.args, config),
        beta=config.pref_beta,
        chosen_weight=config.kto_chosen_weight,
        rejected_weight=config.kto_rejected_weight,
        ftx=config.pref_ftx,
        ref_model=reference_model(config, run),
    )
    if config.do_train:
        train(trainer, run, plot_keys=("loss", "rewards/chosen", "eval_loss"))
    evaluate(trainer, run)
