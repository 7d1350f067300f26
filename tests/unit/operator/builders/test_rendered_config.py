"""The runtime config a FineTuneJob renders, and the ConfigMap holding it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from kubefactory.operator.api.finetunejob import Distributed
from kubefactory.operator.builders.rendered_config import (
    ModelSource,
    config_map,
    deepspeed_config,
    model_source,
    training_config,
)
from kubefactory.runtime.config import validate_config


@pytest.mark.parametrize(
    ("uri", "source"),
    [
        ("hf://Qwen/Qwen2.5-7B", ModelSource("Qwen/Qwen2.5-7B")),
        ("pvc://models/qwen/7b", ModelSource("/kubefactory/model/qwen/7b", "models")),
        ("pvc://models", ModelSource("/kubefactory/model", "models")),
        ("s3://bucket/qwen", ModelSource("s3://bucket/qwen")),
        ("Qwen/Qwen2.5-7B", ModelSource("Qwen/Qwen2.5-7B")),
    ],
)
def test_model_source(uri: str, source: ModelSource) -> None:
    assert model_source(uri) == source


def test_owned_keys_are_set_and_the_config_validates(make_inputs: Any) -> None:
    inputs = make_inputs()
    config = training_config(inputs.spec, list(inputs.datasets), [], None)
    assert config["model_name_or_path"] == "Qwen/Qwen2.5-0.5B"
    assert config["dataset"] == "identity"
    assert config["dataset_dir"] == "/kubefactory/config"
    assert config["output_dir"] == "/kubefactory/output"
    assert "resume_from_checkpoint" not in config and "deepspeed" not in config
    validate_config(config, source="rendered")  # the runtime accepts what the operator renders
    assert {k: config[k] for k in inputs.spec.training} == inputs.spec.training  # the user's keys, verbatim


@pytest.mark.parametrize(
    ("checkpointing", "resume_from", "expected"),
    [
        (
            {},
            "/kubefactory/output/checkpoint-20",
            {"resume_from_checkpoint": "/kubefactory/output/checkpoint-20"},
        ),
        ({}, None, {}),
        ({"resume": False}, None, {"overwrite_output_dir": True}),
    ],
)
def test_resuming(
    make_inputs: Any, checkpointing: dict[str, Any], resume_from: str | None, expected: dict[str, Any]
) -> None:
    inputs = make_inputs({"checkpointing": checkpointing})
    config = training_config(inputs.spec, list(inputs.datasets), [], resume_from)
    keys = ("resume_from_checkpoint", "overwrite_output_dir")
    assert {k: config[k] for k in keys if k in config} == expected


@pytest.mark.parametrize(
    ("deepspeed", "zero"),
    [
        ({}, {"stage": 2, "overlap_comm": False, "contiguous_gradients": True}),
        ({"zeroStage": 3}, {"stage": 3, "overlap_comm": False, "contiguous_gradients": True, "stage3_gather_16bit_weights_on_model_save": True}),
        (
            {"zeroStage": 3, "offloadOptimizer": True, "offloadParameters": True},
            {
                "stage": 3, "overlap_comm": False, "contiguous_gradients": True,
                "offload_optimizer": {"device": "cpu", "pin_memory": True},
                "offload_param": {"device": "cpu", "pin_memory": True},
                "stage3_gather_16bit_weights_on_model_save": True,
            },
        ),
    ],
)  # fmt: skip
def test_deepspeed_config(deepspeed: dict[str, Any], zero: dict[str, Any]) -> None:
    config = deepspeed_config(Distributed.model_validate({"strategy": "deepspeed", "deepspeed": deepspeed}))
    assert config is not None
    assert config["zero_optimization"] == zero
    assert config["train_micro_batch_size_per_gpu"] == "auto"


def test_no_deepspeed_config_for_other_strategies() -> None:
    assert deepspeed_config(Distributed.model_validate({"strategy": "ddp"})) is None


@pytest.mark.parametrize(
    ("fsdp", "words", "version"),
    [
        ({}, "full_shard auto_wrap", 2),
        (
            {"shardingStrategy": "hybrid_shard", "offload": True, "version": 1},
            "hybrid_shard auto_wrap offload",
            1,
        ),
    ],
)
def test_fsdp_keys(make_inputs: Any, fsdp: dict[str, Any], words: str, version: int) -> None:
    inputs = make_inputs({"distributed": {"strategy": "fsdp", "fsdp": fsdp}})
    config = training_config(inputs.spec, list(inputs.datasets), [], None)
    assert config["fsdp"] == words and config["fsdp_config"] == {"version": version}


def test_the_config_map_holds_config_dataset_info_and_deepspeed(make_inputs: Any) -> None:
    inputs = make_inputs({"distributed": {"strategy": "deepspeed"}})
    made = config_map(inputs.owner, "sft-config", inputs.spec, list(inputs.datasets), [], None)
    assert made["metadata"]["name"] == "sft-config"
    config = yaml.safe_load(made["data"]["config.yaml"])
    assert config["deepspeed"] == "/kubefactory/config/deepspeed.json"
    assert json.loads(made["data"]["deepspeed.json"])["zero_optimization"]["stage"] == 2
    assert json.loads(made["data"]["dataset_info.json"]) == {
        "identity": {"file_name": "/kubefactory/datasets/identity/abc123/data.jsonl", "formatting": "alpaca"}
    }
