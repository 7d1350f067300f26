"""The losses of the preference stages, as small functions of log-probabilities.

TRL 1.x no longer ships all of LLaMA-Factory's losses (kto_pair was dropped, orpo and simpo moved
to other trainers, ipo there sums log-probabilities where LLaMA-Factory averages them), so they
live here, each with the formula it follows:

- sigmoid (DPO, with label smoothing), hinge (SLiC), ipo: on the policy/reference log-ratio
  margin `(πc − πr) − (ρc − ρr)`;
- kto_pair: the paired KTO of early TRL, each answer against the other's mean KL;
- orpo: −log p(chosen) + β · −log σ(log odds ratio), on average log-probabilities;
- simpo: −log σ(β · (avg log p(chosen) − avg log p(rejected)) − γ), no reference model;
- kto: 1 − σ(β · (log-ratio − KL)) for desirable, 1 − σ(β · (KL − log-ratio)) for undesirable
  answers, weighted by kto_chosen_weight and kto_rejected_weight;
- rm: −log σ(score(chosen) − score(rejected)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

IGNORE_INDEX = -100
REFERENCE_FREE = ("orpo", "simpo")
AVERAGED = ("ipo", "orpo", "simpo")  # losses on the mean (not summed) log-probability of an answer


@dataclass(frozen=True)
class PreferenceLoss:
    kind: str  # sigmoid | hinge | ipo | kto_pair | orpo | simpo
    beta: float = 0.1
    label_smoothing: float = 0.0
    simpo_gamma: float = 0.5
    ftx: float = 0.0  # weight of the sft loss on the chosen answers

    @property
    def uses_reference(self) -> bool:
        return self.kind not in REFERENCE_FREE

    @property
    def averages(self) -> bool:
        return self.kind in AVERAGED


def sequence_logps(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Summed log-probability of each row's labelled tokens, and how many there are."""
    import torch
    from trl.trainer.utils import selective_log_softmax

    labels = labels[:, 1:].clone()
    logits = logits[:, :-1, :]
    mask = labels != IGNORE_INDEX
    labels[~mask] = 0
    per_token = selective_log_softmax(logits.float(), labels)
    return (per_token * mask).sum(-1), mask.sum(-1).clamp(min=1).to(torch.float32)


def dpo_loss(
    spec: PreferenceLoss, chosen: Tensor, rejected: Tensor, ref_chosen: Tensor, ref_rejected: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """(per-example losses, chosen rewards, rejected rewards) of the reference-based losses."""
    import torch
    import torch.nn.functional as F

    beta = spec.beta
    chosen_ratio, rejected_ratio = chosen - ref_chosen, rejected - ref_rejected
    margin = chosen_ratio - rejected_ratio
    if spec.kind == "sigmoid":
        smooth = spec.label_smoothing
        losses = -F.logsigmoid(beta * margin) * (1 - smooth) - F.logsigmoid(-beta * margin) * smooth
    elif spec.kind == "hinge":
        losses = torch.relu(1 - beta * margin)
    elif spec.kind == "ipo":
        losses = (margin - 1 / (2 * beta)) ** 2
    elif spec.kind == "kto_pair":
        chosen_kl = chosen_ratio.mean().clamp(min=0)
        rejected_kl = rejected_ratio.mean().clamp(min=0)
        losses = torch.cat(
            (
                1 - torch.sigmoid(beta * (chosen_ratio - rejected_kl)),
                1 - torch.sigmoid(beta * (chosen_kl - rejected_ratio)),
            )
        )
    else:
        raise ValueError(f"pref_loss: {spec.kind} is not a reference-based loss")
    return losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()


def orpo_loss(beta: float, chosen: Tensor, rejected: Tensor) -> Tensor:
    """On average log-probabilities (negative): the sft term plus β × the odds-ratio term."""
    import torch
    import torch.nn.functional as F

    log_odds = (chosen - rejected) - (torch.log1p(-torch.exp(chosen)) - torch.log1p(-torch.exp(rejected)))
    return -chosen + beta * -F.logsigmoid(log_odds)


def simpo_loss(beta: float, gamma: float, chosen: Tensor, rejected: Tensor) -> Tensor:
    import torch.nn.functional as F

    return -F.logsigmoid(beta * ((chosen - rejected) - gamma / beta))


def preference_loss(
    spec: PreferenceLoss,
    chosen: Tensor,
    rejected: Tensor,
    ref_chosen: Tensor | None,
    ref_rejected: Tensor | None,
    chosen_avg: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """(mean loss, chosen rewards, rejected rewards); chosen_avg feeds the pref_ftx sft term."""
    if spec.uses_reference:
        if ref_chosen is None or ref_rejected is None:
            raise ValueError(f"pref_loss: {spec.kind} needs the reference model's log-probabilities")
        losses, chosen_rewards, rejected_rewards = dpo_loss(spec, chosen, rejected, ref_chosen, ref_rejected)
    else:
        if spec.kind == "orpo":
            losses = orpo_loss(spec.beta, chosen, rejected)
        else:
            losses = simpo_loss(spec.beta, spec.simpo_gamma, chosen, rejected)
        chosen_rewards, rejected_rewards = spec.beta * chosen.detach(), spec.beta * rejected.detach()
    loss = losses.mean()
    if spec.ftx > 1e-6:
        loss = loss + spec.ftx * (-chosen_avg).mean()
    return loss, chosen_rewards, rejected_rewards


def kto_loss(
    beta: float,
    chosen: Tensor,
    rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    kl: Tensor,
    chosen_weight: float = 1.0,
    rejected_weight: float = 1.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """(per-example losses, chosen rewards, rejected rewards); kl is the batch's clamped KL estimate."""
    import torch

    chosen_ratio, rejected_ratio = chosen - ref_chosen, rejected - ref_rejected
    losses = torch.cat(
        (
            chosen_weight * (1 - torch.sigmoid(beta * (chosen_ratio - kl))),
            rejected_weight * (1 - torch.sigmoid(beta * (kl - rejected_ratio))),
        )
    )
    return losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()


def kto_kl(policy_kl: Tensor, ref_kl: Tensor) -> Tensor:
    """This rank's KL estimate of KTO on mismatched pairs, without gradient; the trainer averages
    it over ranks and clamps it at zero."""
    return (policy_kl - ref_kl).mean().detach()


def pairwise_reward_loss(chosen_scores: Tensor, rejected_scores: Tensor) -> Tensor:
    import torch.nn.functional as F

    return -F.logsigmoid(chosen_scores.float() - rejected_scores.float()).mean()
