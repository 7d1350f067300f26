from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from kubefactory.runtime.config import ConfigError, legacy, load_config, parse_overrides, validate_config


def _messages(values: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_config(values)
    return [str(issue) for issue in info.value.issues]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"lora_rnak": 8}, "lora_rnak: unknown key; did you mean 'lora_rank'?"),
        ({"learning_rat": 1e-4}, "learning_rat: unknown key; did you mean 'learning_rate'?"),
        ({"lora_rank": "eight"}, "lora_rank: expected an integer, got 'eight'"),
        ({"stage": "sftt"}, "stage: got 'sftt'; allowed values: 'pt', 'sft', 'rm', 'ppo', 'dpo' or 'kto'"),
        ({"finetuning_type": "qlora"}, "finetuning_type: got 'qlora'; allowed values:"),
        ({"do_train": "maybe"}, "do_train: expected true or false, got 'maybe'"),
        ({"cutoff_len": 0}, "cutoff_len: Input should be greater than 0"),
        ({"bf16": True, "fp16": True}, "fp16: bf16 and fp16 are both true; choose one"),
        ({"quantization_bit": 4, "finetuning_type": "full"}, "quantization_bit: quantized training needs"),
        (
            {"totally_unknown_key_xyz": 1},
            "totally_unknown_key_xyz: unknown key; see `kubefactory train --help`",
        ),
    ],
)
def test_each_error_names_the_key_and_what_is_allowed(values: dict[str, object], expected: str) -> None:
    messages = _messages(values)
    assert any(message.startswith(expected) for message in messages), messages


def test_all_errors_are_reported_at_once() -> None:
    messages = _messages({"lora_rnak": 8, "lora_rank": "eight", "stage": "sftt", "learning_rate": "fast"})
    fields = sorted(message.split(":")[0] for message in messages)
    assert fields == ["learning_rate", "lora_rank", "lora_rnak", "stage"]


def test_defaults_follow_llamafactory() -> None:
    config = validate_config({})
    assert (config.stage, config.finetuning_type, config.lora_rank, config.lora_target) == (
        "sft",
        "lora",
        8,
        "all",
    )
    assert config.lora_alpha == 16  # 2 × lora_rank when unset
    assert (config.cutoff_len, config.dataset_dir, config.template) == (2048, "data", None)
    assert (config.temperature, config.top_p, config.top_k) == (0.95, 0.7, 50)
    assert config.packing is False
    assert validate_config({"stage": "pt"}).packing is True


def test_comma_lists_and_yaml_lists_mean_the_same() -> None:
    a = validate_config({"dataset": "identity, alpaca_en_demo", "lora_target": "q_proj,v_proj"})
    b = validate_config({"dataset": ["identity", "alpaca_en_demo"], "lora_target": ["q_proj", "v_proj"]})
    assert a.dataset_names == b.dataset_names == ["identity", "alpaca_en_demo"]
    assert a.lora_target_modules == b.lora_target_modules == ["q_proj", "v_proj"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["lora_rank=16"], {"lora_rank": 16}),
        (["learning_rate=1e-4", "bf16=true"], {"learning_rate": 1e-4, "bf16": True}),
        (["--lora_rank", "4", "--do_train"], {"lora_rank": 4, "do_train": True}),
        (["--template=qwen"], {"template": "qwen"}),
        (["dataset=a,b"], {"dataset": "a,b"}),
        (["default_system="], {"default_system": ""}),
    ],
)
def test_overrides(args: list[str], expected: dict[str, object]) -> None:
    assert parse_overrides(args) == expected


def test_override_without_equals_is_an_error() -> None:
    with pytest.raises(ConfigError, match="lora_rank: expected key=value"):
        parse_overrides(["lora_rank"])


def test_file_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("lora_rank: 8\nlearning_rate: 1.0e-4\ndataset: identity\n")
    config = load_config(path, ["lora_rank=32"])
    assert (config.lora_rank, config.lora_alpha, config.learning_rate) == (32, 64, 1e-4)


def test_json_config(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"stage": "sft", "lora_rank": 4}))
    assert load_config(path).lora_rank == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [("- a\n- b\n", "must be a mapping"), ("a: [1,\n", "not valid YAML")],
)
def test_bad_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("/nonexistent/train.yaml")


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        ({"warmup_ratio": 0.1}, {"warmup_steps": 0.1}),
        ({"evaluation_strategy": "steps"}, {"eval_strategy": "steps"}),
        ({"group_by_length": True}, {"train_sampling_strategy": "group_by_length"}),
    ],
)
def test_keys_of_older_transformers_still_work(
    legacy: dict[str, object], expected: dict[str, object]
) -> None:
    config = validate_config(legacy)
    assert {key: getattr(config, key) for key in expected} == expected


def test_dropped_legacy_key_is_accepted_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    legacy._once.cache_clear()  # another test may have said it already in this process
    validate_config({"logging_dir": "logs"})
    assert "ignoring logging_dir" in caplog.text


def test_a_translation_is_said_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    """The operator validates a job's config on every reconcile: its log must not repeat the line."""
    legacy._once.cache_clear()
    caplog.set_level(logging.INFO, logger=legacy.__name__)
    for _ in range(3):
        validate_config({"warmup_ratio": 0.1, "logging_dir": "logs"})
    assert caplog.text.count("translated legacy key warmup_ratio") == 1
    assert caplog.text.count("ignoring logging_dir") == 1
