"""spec.training: kept verbatim, judged by the runtime's TrainConfig, every problem at its key."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.api.training import OWNED_KEYS, Training, check_training, owned_key_rules
from pydantic import BaseModel, ValidationError


class Holder(BaseModel):
    training: Training


def problems(values: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        Holder(training=values)
    return {".".join(map(str, error["loc"])): error["msg"] for error in caught.value.errors()}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"lora_rnk": 8}, {"training.lora_rnk": "unknown key; did you mean 'lora_rank'?"}),
        ({"lora_rank": "eight"}, {"training.lora_rank": "expected an integer, got 'eight'"}),
        (
            {"stage": "grpo"},
            {"training.stage": "got 'grpo'; allowed values: 'pt', 'sft', 'rm', 'ppo', 'dpo' or 'kto'"},
        ),
        ({"bf16": True, "fp16": True}, {"training.fp16": "bf16 and fp16 are both true; choose one"}),
        (
            {"output_dir": "saves/x", "dataset": "identity"},
            {
                "training.output_dir": "set by KubeFactory from spec.output; remove output_dir from spec.training",
                "training.dataset": "set by KubeFactory from spec.datasets; remove dataset from spec.training",
            },
        ),
        (
            {"model_name_or_path": "Qwen/Qwen2.5-0.5B", "lora_rank": 0},
            {
                "training.model_name_or_path": "set by KubeFactory from spec.model; remove model_name_or_path from spec.training",
                "training.lora_rank": "Input should be greater than 0 (got 0)",
            },
        ),
    ],
)
def test_every_problem_is_reported_at_its_key(values: dict[str, Any], expected: dict[str, str]) -> None:
    assert problems(values) == expected


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"stage": "sft", "finetuning_type": "lora", "lora_rank": 16, "lora_target": "q_proj,v_proj"},
        {
            "lora_target": ["q_proj", "v_proj"],
            "report_to": "none",
        },  # lists where LLaMA-Factory takes comma strings
        {
            "warmup_ratio": 0.1,
            "evaluation_strategy": "steps",
            "logging_dir": "logs",
        },  # legacy keys still work
    ],
)
def test_valid_blocks_are_kept_exactly_as_written(values: dict[str, Any]) -> None:
    assert Holder(training=values).training == values
    assert check_training(values) is values


def test_owned_key_rules_mirror_the_python_check() -> None:
    rules = {rule.field_path: rule for rule in owned_key_rules()}
    assert set(rules) == {f".{key}" for key in OWNED_KEYS}
    for key in OWNED_KEYS:
        assert rules[f".{key}"].rule == f"!has(self.{key})"
        assert rules[f".{key}"].message == problems({key: "x"})[f"training.{key}"]
