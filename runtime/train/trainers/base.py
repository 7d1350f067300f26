"""What the stage trainers share: an evaluation collator, averaged metrics, the reference model."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from transformers import Trainer


class KubeTrainer(Trainer):
    """A Trainer whose evaluation batches may be collated differently from training batches
    (training padding-free, evaluating one padded row per example)."""

    def __init__(self, *args: Any, eval_collator: Callable[..., Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eval_collator = eval_collator

    @contextlib.contextmanager
    def _collating_for_eval(self) -> Iterator[None]:
        training_collator = self.data_collator
        if self.eval_collator is not None:
            self.data_collator = self.eval_collator
        try:
            yield
        finally:
            self.data_collator = training_collator

    def get_eval_dataloader(self, eval_dataset: Any = None) -> Any:
        with self._collating_for_eval():
            return super().get_eval_dataloader(eval_dataset)

    def get_test_dataloader(self, test_dataset: Any) -> Any:
        with self._collating_for_eval():
            return super().get_test_dataloader(test_dataset)


class MetricsTrainer(KubeTrainer):
    """Stage metrics gathered per step, averaged over ranks and steps at each log, as LLaMA-Factory
    logs them (rewards/accuracies, rewards/margins, ...; eval_ prefixed during evaluation)."""

    loss_is_scaled_for_ga = False  # compute_loss returns the mean of its batch

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored: dict[str, dict[str, list[float]]] = {
            "train": defaultdict(list),
            "eval": defaultdict(list),
        }
        self.model_accepts_loss_kwargs = False
        self.can_return_loss = True  # evaluation calls compute_loss although batches have no "labels"

    def store_metrics(self, metrics: dict[str, float], split: str) -> None:
        for key, value in metrics.items():
            self._stored[split][key].append(value)

    def reduce_stored(self, split: str) -> dict[str, float]:
        """Mean over the stored steps, then over ranks (every rank logs at the same steps)."""
        import torch

        stored = self._stored[split]
        keys = sorted(stored)
        self._stored[split] = defaultdict(list)
        if not keys:
            return {}
        local = torch.tensor([sum(stored[k]) / len(stored[k]) for k in keys], device=self.accelerator.device)
        return dict(zip(keys, self.accelerator.reduce(local, "mean").tolist(), strict=True))

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        split = "train" if "loss" in logs else "eval"
        prefix = "eval_" if split == "eval" else ""
        logs.update({f"{prefix}{key}": value for key, value in self.reduce_stored(split).items()})
        super().log(logs, start_time)

    def prediction_step(
        self,
        model: Any,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ) -> tuple[Any, Any, Any]:
        """Evaluation computes the stage's loss (and stores its metrics); there are no logits to return."""
        import torch

        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss: Any = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    @property
    def split(self) -> str:
        return "train" if self.model is not None and self.model.training else "eval"


class ReferenceModel:
    """The reference policy of dpo and kto: a separate frozen model, or under LoRA the trained model
    with its adapters switched off (LLaMA-Factory's default when ref_model is not set)."""

    def __init__(self, trainer: Trainer, model: Any | None) -> None:
        self.trainer = trainer
        self.model = model
        if model is not None:
            self.model = _prepare_reference(trainer, model)

    def context(self, policy: Any) -> Any:
        if self.model is not None:
            return contextlib.nullcontext(self.model)
        unwrapped = self.trainer.accelerator.unwrap_model(policy)
        if not hasattr(unwrapped, "disable_adapter"):
            raise ValueError("no reference model: set ref_model, or train with finetuning_type lora")
        return _disabled_adapter(unwrapped, policy)


@contextlib.contextmanager
def _disabled_adapter(unwrapped: Any, policy: Any) -> Iterator[Any]:
    with unwrapped.disable_adapter():
        yield policy


def _prepare_reference(trainer: Trainer, model: Any) -> Any:
    from trl.models.utils import prepare_deepspeed, prepare_fsdp
    from trl.trainer.utils import disable_dropout_in_model

    disable_dropout_in_model(model)
    model.requires_grad_(False)
    if trainer.is_deepspeed_enabled:
        return prepare_deepspeed(model, trainer.accelerator)
    if trainer.is_fsdp_enabled:
        return prepare_fsdp(model, trainer.accelerator)
    prepared = trainer.accelerator.prepare_model(model, evaluation_mode=True)
    prepared.eval()
    return prepared
