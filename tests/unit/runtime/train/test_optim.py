"""LoRA+ parameter groups: B matrices at loraplus_lr_ratio times the learning rate."""

from __future__ import annotations

import torch
from kubefactory.runtime.train.optim import loraplus_groups


def test_loraplus_groups() -> None:
    def p(*shape: int) -> torch.nn.Parameter:
        return torch.nn.Parameter(torch.zeros(*shape))

    named = [
        ("q_proj.lora_A.default.weight", p(4, 8)),
        ("q_proj.lora_B.default.weight", p(8, 4)),
        ("q_proj.lora_magnitude_vector", p(8)),  # 1-d: with the B matrices, without decay
        ("embed.lora_embedding_B.default", p(4, 8)),
    ]
    decay = {"q_proj.lora_A.default.weight", "q_proj.lora_B.default.weight", "embed.lora_embedding_B.default"}
    groups = loraplus_groups(named, decay, lr=1e-4, ratio=16.0, embedding_lr=1e-6, weight_decay=0.01)
    summary = [([id(x) for x in g["params"]], g["lr"], g["weight_decay"]) for g in groups]
    assert summary == [
        ([id(named[0][1])], 1e-4, 0.01),
        ([id(named[1][1])], 1.6e-3, 0.01),
        ([id(named[2][1])], 1.6e-3, 0.0),
        ([id(named[3][1])], 1e-6, 0.01),
    ]
