"""kto: desirable and undesirable answers, each against the KL of mismatched prompt/answer pairs."""

from __future__ import annotations

from typing import Any

from ..losses import kto_kl, kto_loss, sequence_logps
from .base import MetricsTrainer, ReferenceModel


class FeedbackTrainer(MetricsTrainer):
    """Batches from KTOCollator: the examples, their kl_ partners, and kto_tags."""

    def __init__(
        self,
        *args: Any,
        beta: float,
        chosen_weight: float,
        rejected_weight: float,
        ftx: float = 0.0,
        ref_model: Any | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.beta, self.chosen_weight, self.rejected_weight, self.ftx = (
            beta,
            chosen_weight,
            rejected_weight,
            ftx,
        )
        self.reference = ReferenceModel(self, ref_model)

    @staticmethod
    def _logps(model: Any, inputs: dict[str, Any], prefix: str = "") -> tuple[Any, Any, Any]:
        outputs = model(
            input_ids=inputs[f"{prefix}input_ids"],
            attention_mask=inputs[f"{prefix}attention_mask"],
            use_cache=False,
        )
        summed, lengths = sequence_logps(outputs.logits, inputs[f"{prefix}labels"])
        return summed, summed / lengths, outputs.logits

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        import torch

        tags = inputs["kto_tags"]
        logps, averaged, logits = self._logps(model, inputs)
        with torch.no_grad():
            policy_kl, _, _ = self._logps(model, inputs, "kl_")
            with self.reference.context(model) as reference:
                ref_logps, _, _ = self._logps(reference, inputs)
                ref_kl, _, _ = self._logps(reference, inputs, "kl_")
        kl = self.accelerator.gather_for_metrics(kto_kl(policy_kl, ref_kl)).mean().clamp(min=0)
        losses, chosen_rewards, rejected_rewards = kto_loss(
            self.beta, logps[tags], logps[~tags], ref_logps[tags], ref_logps[~tags], kl,
            self.chosen_weight, self.rejected_weight,
        )  # fmt: skip
        loss = losses.nanmean()
        if self.ftx > 1e-6 and tags.any():  # LLaMA-Factory rescales the sft term to the whole batch
            loss = loss + self.ftx * (-averaged[tags]).nanmean() / tags.sum() * len(tags)
        self.store_metrics(
            _sums_and_counts(chosen_rewards, rejected_rewards, logps, logits, tags, kl), self.split
        )
        return (loss, {"chosen": chosen_rewards, "rejected": rejected_rewards}) if return_outputs else loss

    def reduce_stored(self, split: str) -> dict[str, float]:
        """Rewards are averaged over the answers of each kind, which batches hold in varying numbers."""
        raw = super().reduce_stored(split)
        out = {"kl": raw.pop("kl")} if "kl" in raw else {}
        for kind in ("chosen", "rejected"):
            count = raw.get(f"count/{kind}", 0.0)
            if count > 0:
                for name in ("rewards", "logps", "logits"):
                    out[f"{name}/{kind}"] = raw[f"{name}/{kind}_sum"] / count
        if "rewards/chosen" in out and "rewards/rejected" in out:
            out["rewards/margins"] = out["rewards/chosen"] - out["rewards/rejected"]
        return out


def _sums_and_counts(
    chosen_rewards: Any, rejected_rewards: Any, logps: Any, logits: Any, tags: Any, kl: Any
) -> dict[str, float]:
    """The same keys on every rank and step (the reduce across ranks needs them): sums and counts."""
    detached = logps.detach()
    return {
        "rewards/chosen_sum": chosen_rewards.nansum().item(),
        "rewards/rejected_sum": rejected_rewards.nansum().item(),
        "logps/chosen_sum": detached[tags].nansum().item(),
        "logps/rejected_sum": detached[~tags].nansum().item(),
        "logits/chosen_sum": logits.detach()[tags].mean(dim=(-1, -2)).nansum().item() if tags.any() else 0.0,
        "logits/rejected_sum": logits.detach()[~tags].mean(dim=(-1, -2)).nansum().item()
        if (~tags).any()
        else 0.0,
        "count/chosen": float(tags.sum().item()),
        "count/rejected": float((~tags).sum().item()),
        "kl": kl.item(),
    }
