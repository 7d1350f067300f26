"""The steps every stage's recipe shares, in the order a recipe calls them:

    run = start(config)                     # output_dir check, tokenizer + template, datasets, arguments
    model = build_model(config, run)        # load, prepare for training, attach adapters
    trainer = SomeTrainer(..., callbacks=callbacks_for(config))
    train(trainer, run, plot_keys)          # train, save, metrics, trainer state, plots
    evaluate(trainer, run)                  # do_eval

Files a run leaves are written by the main process only, each atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.adapters import attach_adapters
from ..model.loader import Head, load_model, load_tokenizer, prepare_for_training
from .artifacts import save_metrics, write_json_atomic
from .callbacks import CheckpointCallback, EndGuard, TrainerLogCallback, TrainingAtEnd
from .plot import plot_loss
from .run_setup import hf_training_arguments, output_dir_of, reset_output_dir, resume_point
from .tokenized import load_datasets

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase, Seq2SeqTrainingArguments, Trainer, TrainerCallback

    from ..config import TrainConfig
    from ..data.pipeline import DatasetModule
    from ..data.templates import Template

log = logging.getLogger(__name__)


@dataclass
class Run:
    config: TrainConfig
    args: Seq2SeqTrainingArguments
    tokenizer: PreTrainedTokenizerBase
    template: Template
    data: DatasetModule
    resume: str | None

    @property
    def output_dir(self) -> str:
        return str(self.args.output_dir)

    @property
    def is_main(self) -> bool:
        return bool(self.args.should_save)


def start(config: TrainConfig, **argument_overrides: Any) -> Run:
    """Fail early on a bad output_dir, then tokenize (before any process group: see data.py)."""
    from ..data.templates import resolve_template

    resume = resume_point(config, output_dir_of(config))
    tokenizer = load_tokenizer(config)
    template = resolve_template(config, tokenizer)
    data = load_datasets(config, tokenizer, template)
    if config.do_train and data.train_dataset is None:
        from ..errors import UserError

        raise UserError("dataset: do_train is true but no training dataset is given")
    args = hf_training_arguments(config, **argument_overrides)  # from here on, a process group exists
    resume = rank_zero_choice(resume)
    reset_output_dir(config, str(args.output_dir))
    return Run(config, args, tokenizer, template, data, resume)


def rank_zero_choice(value: str | None) -> str | None:
    """Every rank resumes from the checkpoint rank 0 chose (a checkpoint completed between two
    ranks' looks must not split the job)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    choice: list[str | None] = [value]
    dist.broadcast_object_list(choice, src=0)
    return choice[0]


def build_model(config: TrainConfig, run: Run, head: Head = "causal_lm") -> Any:
    """The same seed on every rank and every run: new heads and adapters start the same."""
    from transformers import set_seed

    set_seed(config.seed)
    model = load_model(config, run.tokenizer, head)
    if config.do_train:
        prepare_for_training(model, config)
    return attach_adapters(model, config, is_trainable=config.do_train, value_head=head == "value")


def reference_model(config: TrainConfig, run: Run) -> Any | None:
    """dpo/kto's reference: ref_model (with ref_model_adapters) when given; none under LoRA (the
    adapters are switched off instead); otherwise a frozen copy of the starting model."""
    if config.ref_model is None and config.finetuning_type == "lora":
        return None
    if config.ref_model is None:
        ref_config = config.model_copy(update={"finetuning_type": "full", "adapter_name_or_path": None})
    else:
        adapters = config.ref_model_adapters
        ref_config = config.model_copy(
            update={
                "model_name_or_path": config.ref_model,
                "adapter_name_or_path": adapters,
                "finetuning_type": "lora" if adapters else "full",
                "quantization_bit": config.ref_model_quantization_bit,
            }
        )
    model = load_model(ref_config, run.tokenizer)
    return attach_adapters(model, ref_config, is_trainable=False)


def callbacks_for(config: TrainConfig, extra: Sequence[TrainerCallback] = ()) -> list[TrainerCallback]:
    """The end guard first (a resume at the end stops before anything else starts); extra callbacks
    (which may add files to a checkpoint) run before the checkpoint is marked complete; the progress
    record comes last so that it names the newest complete checkpoint."""
    return [EndGuard(), *extra, CheckpointCallback(config.save_total_limit), TrainerLogCallback()]


def train(trainer: Trainer, run: Run, plot_keys: Sequence[str] = ("loss", "eval_loss")) -> None:
    """Train (or, resumed at the end, take the checkpoint's weights as they are), then save."""
    try:
        metrics = trainer.train(resume_from_checkpoint=run.resume).metrics
    except TrainingAtEnd as end:
        log.info(
            "%s is at the end of training (step %d): nothing left to train, saving its result",
            run.resume,
            end.step,
        )
        trainer.is_in_train = False
        metrics = {"epoch": trainer.state.epoch, "total_flos": trainer.state.total_flos}
    trainer.save_model()
    if run.is_main:
        run.tokenizer.save_pretrained(run.output_dir)
    trainer.log_metrics("train", metrics)
    save_metrics(run.output_dir, "train", metrics, run.is_main)
    if trainer.is_world_process_zero():
        write_json_atomic(Path(run.output_dir) / "trainer_state.json", _state_dict(trainer))
        if run.config.plot_loss:
            plot_loss(run.output_dir, tuple(plot_keys))


def evaluate(trainer: Trainer, run: Run, drop: Sequence[str] = ()) -> dict[str, float]:
    """do_eval: the stage's loss (and metrics) on the evaluation split(s)."""
    if not run.config.do_eval or run.data.eval_dataset is None:
        if run.config.do_eval:
            log.warning("do_eval is true but there is no evaluation data (set eval_dataset or val_size)")
        return {}
    metrics = trainer.evaluate(metric_key_prefix="eval")
    metrics = {key: value for key, value in metrics.items() if not any(part in key for part in drop)}
    trainer.log_metrics("eval", metrics)
    save_metrics(run.output_dir, "eval", metrics, run.is_main)
    return metrics


def _state_dict(trainer: Trainer) -> dict[str, Any]:
    import dataclasses
    import json

    return json.loads(json.dumps(dataclasses.asdict(trainer.state), default=str))
