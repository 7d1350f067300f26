"""Combinations a training config may not make, each refused with the key to change."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.train.rules import UNSUPPORTED, check_stage_config

BASE = {"model_name_or_path": "m", "dataset": "d", "do_train": True}


def _config(**values: Any) -> Any:
    return validate_config({**BASE, **values})


@pytest.mark.parametrize(
    ("values", "zero", "message"),
    [
        ({"stage": "ppo"}, None, r"stage: ppo is not supported: the installed TRL \(1\.\d+\.\d+\) ships no PPOTrainer"),
        ({"finetuning_type": "oft"}, None, "finetuning_type: oft is not supported"),
        ({"use_galore": True}, None, "use_galore: the GaLore optimizer is not supported"),
        ({"stage": "sft", "pref_loss": "orpo"}, None, "pref_loss: only stage dpo has preference losses"),
        ({"stage": "dpo", "pref_loss": "simpo", "ref_model": "r"}, None, "ref_model: pref_loss simpo does not use a reference model"),
        ({"do_eval": True}, None, "eval_dataset: do_eval, do_predict and predict_with_generate need eval_dataset or val_size"),
        ({"do_predict": True, "eval_dataset": "e"}, None, "do_predict: set predict_with_generate: true"),
        ({"predict_with_generate": True, "compute_accuracy": True, "val_size": 0.1}, None, "compute_accuracy: cannot be combined"),
        ({"predict_with_generate": True, "val_size": 0.1}, 3, "predict_with_generate: cannot generate under DeepSpeed ZeRO-3"),
        ({"pissa_init": True}, 3, "pissa_init: PiSSA initialisation cannot run under DeepSpeed ZeRO-3"),
        ({"streaming": True}, None, "max_steps: streaming datasets have no length"),
        ({"dataset": None}, None, "dataset: do_train is true but no training dataset is given"),
        ({"finetuning_type": "full", "loraplus_lr_ratio": 16}, None, "loraplus_lr_ratio: LoRA\\+ needs finetuning_type lora"),
        ({"create_new_adapter": True}, None, "create_new_adapter: needs adapter_name_or_path"),
    ],
)  # fmt: skip
def test_refused(values: dict[str, Any], zero: int | None, message: str) -> None:
    with pytest.raises(UserError, match=message):
        check_stage_config(_config(**values), zero)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"stage": "dpo", "pref_loss": "orpo"},
        {"stage": "kto", "pref_ftx": 0.1},
        {"do_eval": True, "val_size": 0.1, "eval_strategy": "steps"},
        {
            "do_predict": True,
            "predict_with_generate": True,
            "eval_dataset": "e",
            "do_train": False,
            "dataset": None,
        },
        {"predict_with_generate": True, "val_size": 0.1},
    ],
)
def test_accepted(values: dict[str, Any]) -> None:
    check_stage_config(_config(**values), 2)


def test_every_refused_key_is_a_config_key() -> None:
    from kubefactory.runtime.config import known_keys

    assert set(UNSUPPORTED) <= set(known_keys())
