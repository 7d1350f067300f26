"""dpo (sigmoid, hinge, ipo, kto_pair), orpo and simpo: one trainer, the loss chosen by pref_loss."""

from __future__ import annotations

from typing import Any

from ..losses import PreferenceLoss, preference_loss, sequence_logps
from .base import MetricsTrainer, ReferenceModel


class PreferenceTrainer(MetricsTrainer):
    """Batches hold B chosen rows then B rejected rows (PairwiseCollator)."""

    def __init__(self, *args: Any, loss: PreferenceLoss, ref_model: Any | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loss_spec = loss
        self.reference = ReferenceModel(self, ref_model) if loss.uses_reference else None

    def _logps(self, model: Any, inputs: dict[str, Any]) -> tuple[Any, Any, Any]:
        """(per-answer log-probabilities as the loss wants them, logits, per-answer averages)."""
        outputs = model(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False
        )
        summed, lengths = sequence_logps(outputs.logits, inputs["labels"])
        averaged = summed / lengths
        return (averaged if self.loss_spec.averages else summed), outputs.logits, averaged

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        import torch

        logps, logits, averaged = self._logps(model, inputs)
        half = logps.shape[0] // 2
        chosen, rejected = logps[:half], logps[half:]
        ref_chosen = ref_rejected = None
        if self.reference is not None:
            with torch.no_grad(), self.reference.context(model) as reference:
                ref_logps, _, _ = self._logps(reference, inputs)
            ref_chosen, ref_rejected = ref_logps[:half].detach(), ref_logps[half:].detach()
        loss, chosen_rewards, rejected_rewards = preference_loss(
            self.loss_spec, chosen, rejected, ref_chosen, ref_rejected, averaged[:half]
        )
        metrics = {
            "rewards/chosen": chosen_rewards.mean().item(),
            "rewards/rejected": rejected_rewards.mean().item(),
            "rewards/accuracies": (chosen_rewards > rejected_rewards).float().mean().item(),
            "rewards/margins": (chosen_rewards - rejected_rewards).mean().item(),
            "logps/chosen": chosen.detach().mean().item(),
            "logps/rejected": rejected.detach().mean().item(),
            "logits/chosen": logits[:half].detach().mean().item(),
            "logits/rejected": logits[half:].detach().mean().item(),
        }
        if self.loss_spec.kind == "orpo":
            sft = -averaged[:half].detach()
            metrics["sft_loss"] = sft.mean().item()
            metrics["odds_ratio_loss"] = ((loss.detach() - sft.mean()) / self.loss_spec.beta).item()
        self.store_metrics(metrics, self.split)
        return (loss, {"chosen": chosen_rewards, "rejected": rejected_rewards}) if return_outputs else loss
