"""Trainer callbacks: LLaMA-Factory's trainer_log.jsonl, the progress record the operator reads,
checkpoints marked complete, and a resume that never steps past the end."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ..contract.progress import ProgressRecord
from ..errors import UserError
from .artifacts import PROGRESS_FILE, TRAINER_LOG, append_jsonl, write_json_atomic
from .checkpoints import latest_complete_checkpoint, mark_complete, rotate_checkpoints, sync_folder


class TrainerLogCallback(TrainerCallback):
    """One JSON line per logging step, with LLaMA-Factory's field names; plus progress.json."""

    def __init__(self) -> None:
        self.start_time = time.time()
        self.start_step = 0
        self.last: dict[str, Any] = {}  # the latest loss and lr survive log lines without them
        self.remaining: float | None = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> Any:
        self.start_time = time.time()
        self.start_step = state.global_step  # resumed runs measure speed from where they started

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> Any:
        if not state.is_world_process_zero or not state.log_history:
            return
        last = state.log_history[-1]
        elapsed = time.time() - self.start_time
        done = state.global_step - self.start_step
        remaining = (state.max_steps - state.global_step) * (elapsed / done) if done else 0.0
        record = {
            "current_steps": state.global_step,
            "total_steps": state.max_steps,
            "loss": last.get("loss"),
            "eval_loss": last.get("eval_loss"),
            "predict_loss": last.get("predict_loss"),
            "reward": last.get("reward"),
            "accuracy": last.get("rewards/accuracies"),
            "lr": last.get("learning_rate"),
            "epoch": last.get("epoch"),
            "percentage": round(state.global_step / state.max_steps * 100, 2) if state.max_steps else 100,
            "elapsed_time": str(timedelta(seconds=int(elapsed))),
            "remaining_time": str(timedelta(seconds=int(remaining))),
        }
        if state.num_input_tokens_seen:
            record["throughput"] = round(state.num_input_tokens_seen / max(elapsed, 1e-6), 2)
            record["total_tokens"] = state.num_input_tokens_seen
        record = {key: value for key, value in record.items() if value is not None}
        append_jsonl(Path(str(args.output_dir)) / TRAINER_LOG, record)
        self.last.update({k: record[k] for k in ("loss", "lr", "throughput") if k in record})
        self.remaining = remaining
        self._write_progress(args, state)

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> Any:
        if state.is_world_process_zero:
            self._write_progress(args, state)

    def _write_progress(self, args: TrainingArguments, state: TrainerState) -> None:
        output = Path(str(args.output_dir))
        latest = latest_complete_checkpoint(output, warn=False)
        progress = ProgressRecord(
            step=state.global_step,
            total_steps=state.max_steps,
            epoch=state.epoch,
            loss=self.last.get("loss"),
            learning_rate=self.last.get("lr"),
            tokens_per_second=self.last.get("throughput"),
            eta_seconds=int(self.remaining) if self.remaining is not None else None,
            latest_checkpoint=latest.name if latest else None,
            updated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        write_json_atomic(output / PROGRESS_FILE, progress.record())


def barrier() -> None:
    """Wait for every rank (nothing to wait for outside a distributed run)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


class CheckpointCallback(TrainerCallback):
    """Marks a checkpoint complete once every rank has written it, then applies save_total_limit.

    Each rank flushes the checkpoint folder to disk and waits at a barrier; only then does the
    saving process write the completion marker. The Trainer's own rotation is switched off (its
    save_total_limit is None) because it deletes by count, not by completeness: here the newest
    complete checkpoint is never deleted, whatever the limit.
    """

    def __init__(self, save_total_limit: int | None) -> None:
        self.save_total_limit = save_total_limit

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> Any:
        folder = Path(str(args.output_dir)) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            sync_folder(folder)
        barrier()
        if args.should_save:
            mark_complete(folder, state.global_step, args.world_size)
            keep = {Path(state.best_model_checkpoint)} if state.best_model_checkpoint else set()
            rotate_checkpoints(str(args.output_dir), self.save_total_limit, keep)


class TrainingAtEnd(Exception):
    """Raised by `EndGuard` when a resumed run has nothing left to train (caught by the recipe)."""

    def __init__(self, step: int) -> None:
        super().__init__(f"training is already at its end (step {step})")
        self.step = step


class EndGuard(TrainerCallback):
    """A run resumed from a checkpoint at its last step trains nothing.

    The Trainer's loop asks callbacks whether to stop only after a step: resumed at the end of
    ``max_steps`` (or of ``num_train_epochs``, when that end falls inside an epoch) it would take one
    more step, save checkpoint-N+1 and overwrite the result. At the start of training the checkpoint's
    state is loaded and ``max_steps`` computed for this config, so this callback stops there: at the
    end it raises `TrainingAtEnd` (every rank does, from the same state); past the end (a checkpoint
    of a longer run) it raises a `UserError`, since steps cannot be untrained.
    """

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> Any:
        if state.max_steps <= 0 or state.global_step < state.max_steps:
            return
        if state.global_step > state.max_steps:
            raise UserError(
                f"resume: the checkpoint is at step {state.global_step}, past the end of this config "
                f"({state.max_steps} steps); raise max_steps or num_train_epochs, or set overwrite_output_dir: "
                "true to train afresh"
            )
        raise TrainingAtEnd(state.global_step)
