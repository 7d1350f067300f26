"""What every stage's recipe needs: Hugging Face arguments, the output folder, the resume point."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config.hf_training import HfTrainingArguments
from ..errors import UserError
from .artifacts import PROGRESS_FILE, TRAINER_LOG
from .checkpoints import latest_complete_checkpoint

if TYPE_CHECKING:
    from transformers import Seq2SeqTrainingArguments

    from ..config import TrainConfig

log = logging.getLogger(__name__)


class OutputDirError(UserError):
    """output_dir holds an earlier run that cannot be resumed."""


def hf_training_arguments(config: TrainConfig, **overrides: Any) -> Seq2SeqTrainingArguments:
    from transformers import Seq2SeqTrainingArguments

    values = {name: getattr(config, name) for name in HfTrainingArguments.model_fields}
    values["output_dir"] = config.output_dir or "saves/kubefactory"
    values["remove_unused_columns"] = False  # our collators read exactly the columns they need
    if values["include_num_input_tokens_seen"] in ("no", False):
        values["include_num_input_tokens_seen"] = "non_padding"  # tokens/s in the progress record
    values.update(overrides)
    return Seq2SeqTrainingArguments(**values)


def resume_point(config: TrainConfig, output_dir: str) -> str | None:
    """The checkpoint to resume from: explicit, else the latest complete one, unless overwriting."""
    if config.resume_from_checkpoint:
        if not Path(config.resume_from_checkpoint).is_dir():
            raise OutputDirError(f"resume_from_checkpoint: {config.resume_from_checkpoint} is not a folder")
        return config.resume_from_checkpoint
    folder = Path(output_dir)
    if config.overwrite_output_dir or not config.do_train or not folder.exists():
        return None
    latest = latest_complete_checkpoint(folder)
    if latest is not None:
        log.info("resuming from %s (set overwrite_output_dir: true to start afresh)", latest)
        return str(latest)
    leftovers = [p.name for p in folder.iterdir() if p.name not in (TRAINER_LOG, PROGRESS_FILE)]
    if leftovers:
        raise OutputDirError(
            f"output_dir: {folder} already holds {', '.join(sorted(leftovers)[:5])} but no complete checkpoint to "
            "resume from; set overwrite_output_dir: true to train again there, or choose another output_dir"
        )
    return None


def reset_output_dir(config: TrainConfig, output_dir: str) -> None:
    """A fresh run starts a fresh log; a resumed one appends to it."""
    if config.overwrite_output_dir:
        for name in (TRAINER_LOG, PROGRESS_FILE):
            (Path(output_dir) / name).unlink(missing_ok=True)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
