"""rm: a value head scores the last token of each answer; the chosen one should score higher."""

from __future__ import annotations

from typing import Any

from ..losses import pairwise_reward_loss
from .base import KubeTrainer


def last_token_scores(values: Any, attention_mask: Any) -> Any:
    """The value at each row's last attended token (rows are right-padded)."""
    index = (attention_mask.sum(dim=-1, keepdim=True) - 1).clamp(min=0)
    return values.gather(dim=-1, index=index).squeeze(-1)


class RewardTrainer(KubeTrainer):
    """Batches hold B chosen rows then B rejected rows (PairwiseCollator). The model is a
    token-classification model with one label: its logits are the per-token values."""

    loss_is_scaled_for_ga = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = False
        self.can_return_loss = True

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        values = model(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False
        ).logits[..., 0]
        scores = last_token_scores(values, inputs["attention_mask"])
        half = scores.shape[0] // 2
        chosen, rejected = scores[:half], scores[half:]
        loss = pairwise_reward_loss(chosen, rejected)
        # the tuple's tail becomes the predictions of evaluation: (chosen scores, rejected scores)
        return (loss, (loss, chosen, rejected)) if return_outputs else loss
