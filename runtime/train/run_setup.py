"""What every stage's recipe needs: Hugging Face arguments, the output folder, the resume point."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config.hf_training import HfTrainingArguments
from ..errors import UserError
from ..launch.accelerators import PROFILES
from ..launch.deepspeed import check_parallelism, resolve_deepspeed
from ..launch.torchrun import RankInfo
from .artifacts import PROGRESS_FILE, RUN_COMPLETE, TRAINER_LOG
from .checkpoints import checkpoints, latest_complete_checkpoint

if TYPE_CHECKING:
    from transformers import Seq2SeqTrainingArguments

    from ..config import TrainConfig

log = logging.getLogger(__name__)

DEFAULT_OUTPUT_DIR = "saves/kubefactory"


class OutputDirError(UserError):
    """output_dir holds an earlier run that cannot be resumed."""


def output_dir_of(config: TrainConfig) -> str:
    return config.output_dir or DEFAULT_OUTPUT_DIR


def training_values(config: TrainConfig, vendor: str = "cpu", distributed: bool = False) -> dict[str, Any]:
    """The Hugging Face training arguments of a config on this machine (pure: no torch, no I/O
    but a path check); `vendor` is the accelerator (launch.accelerators), `distributed` whether
    this process is one of several."""
    values = {name: getattr(config, name) for name in HfTrainingArguments.model_fields}
    values["output_dir"] = output_dir_of(config)
    values["remove_unused_columns"] = False  # our collators read exactly the columns they need
    if values["include_num_input_tokens_seen"] in ("no", False):
        values["include_num_input_tokens_seen"] = "non_padding"  # tokens/s in the progress record
    # CheckpointCallback applies save_total_limit: the Trainer's rotation could delete the newest
    # complete checkpoint while a newer one is still incomplete.
    values["save_total_limit"] = None
    values["deepspeed"] = resolve_deepspeed(config.deepspeed)
    check_parallelism(values["deepspeed"], config.fsdp)
    if config.disable_shuffling:
        values["train_sampling_strategy"] = "sequential"
    if config.enable_liger_kernel:
        values["use_liger_kernel"] = True
    if vendor == "cpu":
        # Without use_cpu, accelerate does not treat several CPU processes as one job: no DDP, and
        # no token counts shared across ranks.
        values["use_cpu"] = True
    if values["ddp_backend"] is None and distributed:
        values["ddp_backend"] = PROFILES[vendor].backend
    if config.predict_with_generate and config.eval_strategy != "no":
        raise UserError(
            "eval_strategy: evaluation during training measures the loss, which predict_with_generate data "
            "(prompts without answers) cannot give; set eval_strategy: no and use do_eval or do_predict after training"
        )
    return values


def hf_training_arguments(config: TrainConfig, **overrides: Any) -> Seq2SeqTrainingArguments:
    from transformers import Seq2SeqTrainingArguments

    from ..launch.accelerators import detect_accelerator

    values = training_values(config, detect_accelerator().vendor, RankInfo.from_env(os.environ).distributed)
    values.update(overrides)
    return Seq2SeqTrainingArguments(**values)


def resume_point(config: TrainConfig, output_dir: str) -> str | None:
    """The checkpoint to resume from: explicit, else the latest complete one, unless overwriting."""
    if config.resume_from_checkpoint:
        if not Path(config.resume_from_checkpoint).is_dir():
            raise OutputDirError(f"resume_from_checkpoint: {config.resume_from_checkpoint} is not a folder")
        log.info("resuming from %s (resume_from_checkpoint)", config.resume_from_checkpoint)
        return config.resume_from_checkpoint
    folder = Path(output_dir)
    if config.overwrite_output_dir or not config.do_train or not folder.exists():
        return None
    latest = latest_complete_checkpoint(folder)
    if latest is not None:
        log.info("resuming from %s (set overwrite_output_dir: true to start afresh)", latest)
        return str(latest)
    leftovers = [
        p.name
        for p in folder.iterdir()
        if p.name not in (TRAINER_LOG, PROGRESS_FILE) and not p.name.startswith(".")
    ]
    if leftovers:
        raise OutputDirError(
            f"output_dir: {folder} already holds {', '.join(sorted(leftovers)[:5])} but no complete checkpoint to "
            "resume from; set overwrite_output_dir: true to train again there, or choose another output_dir"
        )
    return None


def reset_output_dir(config: TrainConfig, output_dir: str) -> None:
    """A fresh run (overwrite_output_dir) starts a fresh log and drops the old run's completion record
    (first: a crash while retraining must not leave it vouching for half-replaced files) and its
    checkpoints, so that a later automatic resume can never pick one of them; a resumed run appends
    to its log."""
    folder = Path(output_dir)
    if config.overwrite_output_dir and config.do_train and RankInfo.from_env(os.environ).is_main:
        for name in (RUN_COMPLETE, TRAINER_LOG, PROGRESS_FILE):
            (folder / name).unlink(missing_ok=True)
        for checkpoint in checkpoints(folder):
            log.info("overwrite_output_dir: removing %s of an earlier run", checkpoint)
            shutil.rmtree(checkpoint, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
