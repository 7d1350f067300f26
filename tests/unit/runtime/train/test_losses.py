"""The preference losses against their formulas, on hand-picked log-probabilities."""

from __future__ import annotations

import math

import pytest
import torch
from kubefactory.runtime.train.losses import (
    PreferenceLoss,
    dpo_loss,
    kto_kl,
    kto_loss,
    orpo_loss,
    pairwise_reward_loss,
    preference_loss,
    sequence_logps,
    simpo_loss,
)

CHOSEN, REJECTED = torch.tensor([-5.0, -7.0]), torch.tensor([-6.0, -6.5])
REF_CHOSEN, REF_REJECTED = torch.tensor([-5.5, -7.0]), torch.tensor([-5.5, -6.0])
BETA = 0.1


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _margins() -> list[float]:
    return [
        (c - rc) - (r - rr)
        for c, r, rc, rr in zip(
            CHOSEN.tolist(), REJECTED.tolist(), REF_CHOSEN.tolist(), REF_REJECTED.tolist(), strict=True
        )
    ]


@pytest.mark.parametrize(
    ("kind", "smoothing", "formula"),
    [
        ("sigmoid", 0.0, lambda m: -math.log(_sigmoid(BETA * m))),
        ("sigmoid", 0.2, lambda m: -0.8 * math.log(_sigmoid(BETA * m)) - 0.2 * math.log(_sigmoid(-BETA * m))),
        ("hinge", 0.0, lambda m: max(0.0, 1 - BETA * m)),
        ("ipo", 0.0, lambda m: (m - 1 / (2 * BETA)) ** 2),
    ],
)
def test_reference_losses(kind: str, smoothing: float, formula: object) -> None:
    spec = PreferenceLoss(kind, beta=BETA, label_smoothing=smoothing)
    losses, chosen_rewards, rejected_rewards = dpo_loss(spec, CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED)
    assert losses.tolist() == pytest.approx([formula(m) for m in _margins()])  # type: ignore[operator]
    assert chosen_rewards.tolist() == pytest.approx((BETA * (CHOSEN - REF_CHOSEN)).tolist())
    assert rejected_rewards.tolist() == pytest.approx((BETA * (REJECTED - REF_REJECTED)).tolist())


def test_kto_pair_loss() -> None:
    losses, _, _ = dpo_loss(PreferenceLoss("kto_pair", beta=BETA), CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED)
    chosen_ratio, rejected_ratio = CHOSEN - REF_CHOSEN, REJECTED - REF_REJECTED  # [0.5, 0], [-0.5, -0.5]
    chosen_kl, rejected_kl = max(0.0, chosen_ratio.mean().item()), max(0.0, rejected_ratio.mean().item())
    expected = [1 - _sigmoid(BETA * (c - rejected_kl)) for c in chosen_ratio.tolist()]
    expected += [1 - _sigmoid(BETA * (chosen_kl - r)) for r in rejected_ratio.tolist()]
    assert losses.tolist() == pytest.approx(expected)


def test_orpo_and_simpo_need_no_reference() -> None:
    chosen, rejected = torch.tensor([-0.5, -1.2]), torch.tensor([-0.9, -1.0])  # average log-probabilities
    orpo = orpo_loss(BETA, chosen, rejected)
    for i, (c, r) in enumerate(zip(chosen.tolist(), rejected.tolist(), strict=True)):
        log_odds = (c - r) - (math.log(1 - math.exp(c)) - math.log(1 - math.exp(r)))
        assert orpo[i].item() == pytest.approx(-c + BETA * -math.log(_sigmoid(log_odds)))
    simpo = simpo_loss(2.0, 0.5, chosen, rejected)
    assert simpo.tolist() == pytest.approx(
        [
            -math.log(_sigmoid(2.0 * (c - r) - 0.5))
            for c, r in zip(chosen.tolist(), rejected.tolist(), strict=True)
        ]
    )
    loss, chosen_rewards, _ = preference_loss(
        PreferenceLoss("simpo", beta=2.0, simpo_gamma=0.5), chosen, rejected, None, None, chosen
    )
    assert loss.item() == pytest.approx(simpo.mean().item())
    assert chosen_rewards.tolist() == pytest.approx((2.0 * chosen).tolist())


def test_pref_ftx_adds_the_sft_loss_of_the_chosen_answers() -> None:
    average = torch.tensor([-1.0, -3.0])
    plain, _, _ = preference_loss(
        PreferenceLoss("sigmoid"), CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED, average
    )
    mixed, _, _ = preference_loss(
        PreferenceLoss("sigmoid", ftx=0.5), CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED, average
    )
    assert mixed.item() == pytest.approx(plain.item() + 0.5 * 2.0)


def test_reference_losses_need_the_reference() -> None:
    with pytest.raises(ValueError, match="pref_loss: sigmoid needs the reference model"):
        preference_loss(PreferenceLoss("sigmoid"), CHOSEN, REJECTED, None, None, CHOSEN)


def test_kto_loss_weights_and_kl() -> None:
    kl = kto_kl(torch.tensor([-3.0, -1.0]), torch.tensor([-3.5, -2.5]))
    assert kl.item() == pytest.approx(1.0)
    losses, chosen_rewards, rejected_rewards = kto_loss(
        BETA,
        CHOSEN[:1],
        REJECTED[:1],
        REF_CHOSEN[:1],
        REF_REJECTED[:1],
        kl,
        chosen_weight=2.0,
        rejected_weight=0.5,
    )
    assert losses.tolist() == pytest.approx(
        [2.0 * (1 - _sigmoid(BETA * (0.5 - 1.0))), 0.5 * (1 - _sigmoid(BETA * (1.0 - -0.5)))]
    )
    assert (chosen_rewards.item(), rejected_rewards.item()) == pytest.approx((0.05, -0.05))


def test_pairwise_reward_loss() -> None:
    loss = pairwise_reward_loss(torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0]))
    assert loss.item() == pytest.approx((-math.log(_sigmoid(1.0)) - math.log(_sigmoid(-1.0))) / 2)


def test_sequence_logps_sum_only_the_labelled_next_tokens() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    labels = torch.tensor([[-100, -100, 3, 4, -100], [-100, 1, 2, 6, 5]])
    summed, lengths = sequence_logps(logits, labels)
    log_probs = logits.log_softmax(-1)
    expected = [
        log_probs[0, 1, 3] + log_probs[0, 2, 4],
        log_probs[1, 0, 1] + log_probs[1, 1, 2] + log_probs[1, 2, 6] + log_probs[1, 3, 5],
    ]
    assert summed.tolist() == pytest.approx([e.item() for e in expected], rel=1e-5)
    assert lengths.tolist() == [2, 4]
