"""Loading for inference: which adapters merge, which stay named, which dtype, and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.model.inference import (
    AdapterPlan,
    check_not_quantized,
    inference_dtype,
    load_for_inference,
    plan_adapters,
)


@pytest.mark.parametrize(
    ("value", "plan"),
    [
        (None, AdapterPlan()),
        ("saves/a", AdapterPlan(("saves/a",), {})),
        ("saves/a, saves/b", AdapterPlan(("saves/a", "saves/b"), {})),
        ("sql=saves/sql,chat=saves/chat", AdapterPlan((), {"sql": "saves/sql", "chat": "saves/chat"})),
        (["saves/base-fix", "sql = saves/sql"], AdapterPlan(("saves/base-fix",), {"sql": "saves/sql"})),
    ],
)
def test_plan_adapters(value: Any, plan: AdapterPlan) -> None:
    assert plan_adapters(value) == plan


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("=saves/a", "adapter_name_or_path: '=saves/a' must be a path or name=path, with both parts set"),
        ("a=", "adapter_name_or_path: 'a=' must be a path or name=path, with both parts set"),
        ("a=x,a=y", "adapter_name_or_path: the adapter name 'a' is used twice; names must be unique"),
    ],
)
def test_bad_adapter_entries(value: str, message: str) -> None:
    with pytest.raises(UserError) as caught:
        plan_adapters(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("infer_dtype", "saved", "accelerator", "expected"),
    [
        ("auto", torch.bfloat16, False, torch.float32),
        ("auto", torch.bfloat16, True, torch.bfloat16),
        ("auto", torch.float16, True, torch.float16),
        ("auto", torch.float32, True, torch.bfloat16),
        ("float16", torch.float32, False, torch.float16),
        ("float32", torch.bfloat16, True, torch.float32),
    ],
)
def test_inference_dtype(
    infer_dtype: str, saved: torch.dtype, accelerator: bool, expected: torch.dtype
) -> None:
    assert inference_dtype(validate_config({"infer_dtype": infer_dtype}), saved, accelerator) == expected


def test_quantized_configs_cannot_take_merged_adapters() -> None:
    with pytest.raises(
        UserError, match="quantization_bit: cannot merge adapters into a model quantized to 8 bits"
    ):
        check_not_quantized(validate_config({"quantization_bit": 8}), "merge adapters")


def test_a_folder_without_adapter_config_is_named(tmp_path: Path) -> None:
    from kubefactory.runtime.model.tiny import TinyModelSpec, build_tiny_model

    model = build_tiny_model(
        TinyModelSpec(hidden_size=16, num_layers=1, vocab_size=300), output=tmp_path / "m"
    )
    config = validate_config(
        {"model_name_or_path": str(model), "adapter_name_or_path": str(tmp_path), "template": "qwen"}
    )
    with pytest.raises(UserError, match=f"adapter_name_or_path: {tmp_path} holds no adapter_config.json"):
        load_for_inference(config, "cpu")


def test_context_length_comes_from_model_max_length_or_the_model(tmp_path: Path) -> None:
    from kubefactory.runtime.model.tiny import TinyModelSpec, build_tiny_model

    model = build_tiny_model(
        TinyModelSpec(hidden_size=16, num_layers=1, vocab_size=300), output=tmp_path / "m"
    )
    base = {"model_name_or_path": str(model), "template": "qwen"}
    assert load_for_inference(validate_config(base), "cpu").context_length == 4096
    loaded = load_for_inference(validate_config({**base, "model_max_length": 512}), "cpu")
    assert loaded.context_length == 512
    assert loaded.adapters == () and not loaded.model.training
