"""The completion record: its fingerprint, what counts as the result, and the check at the start of a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.config import TrainConfig, validate_config
from kubefactory.runtime.train import completion
from kubefactory.runtime.train.completion import (
    RECORD_FILE,
    RESULT_NEUTRAL_KEYS,
    CompletionRecord,
    completed_run,
    differences,
    digest,
    fingerprint,
    fingerprint_values,
    read_record,
    result_files,
    verify_digests,
    write_record,
)
from kubefactory.runtime.train.run_setup import OutputDirError


def _config(output: Path, **overrides: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "model_name_or_path": "some/model",
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": "alpaca_en_demo",
        "template": "qwen",
        "output_dir": str(output),
        "learning_rate": 5e-3,
        "max_steps": 12,
        "logging_steps": 2,
        "save_steps": 4,
    }
    values.update(overrides)
    return validate_config(values)


def _finished(output: Path, config: TrainConfig, step: int = 12) -> CompletionRecord:
    """output_dir as a completed run leaves it: result files, a checkpoint, live logs, the record."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "adapter_model.safetensors").write_bytes(b"weights" * 100)
    (output / "adapter_config.json").write_text("{}")
    (output / "checkpoint-12").mkdir()
    (output / "progress.json").write_text("{}")
    (output / "trainer_log.jsonl").write_text("{}\n")
    values = fingerprint_values(config)
    record = CompletionRecord(
        step=step,
        fingerprint=fingerprint(values),
        config=values,
        artifacts={path.name: digest(path) for path in result_files(output)},
    )
    write_record(output, record)
    return record


def test_every_result_neutral_key_is_a_config_key() -> None:
    assert sorted(RESULT_NEUTRAL_KEYS - set(TrainConfig.model_fields)) == []


def test_the_fingerprint_ignores_where_and_how_a_run_logs_but_not_what_it_trains(tmp_path: Path) -> None:
    base = fingerprint(fingerprint_values(_config(tmp_path / "a")))
    neutral = _config(
        tmp_path / "b", logging_steps=7, save_steps=3, overwrite_output_dir=True, report_to="tensorboard",
        resume_from_checkpoint=str(tmp_path / "a" / "checkpoint-4"), dataloader_num_workers=2,
    )  # fmt: skip
    assert fingerprint(fingerprint_values(neutral)) == base
    for key, value in {"learning_rate": 1e-3, "max_steps": 24, "lora_rank": 16, "seed": 1}.items():
        assert fingerprint(fingerprint_values(_config(tmp_path / "a", **{key: value}))) != base, key


def test_no_credential_is_written_into_the_record(tmp_path: Path) -> None:
    secrets = {"hf_hub_token": "hf_secret", "hub_token": "hub_secret", "swanlab_api_key": "sl_secret"}
    values = fingerprint_values(_config(tmp_path, **secrets))
    assert not set(secrets) & set(values) and "secret" not in json.dumps(values)


def test_differences_name_each_key_and_both_values() -> None:
    assert differences({"learning_rate": 0.005, "seed": 7}, {"learning_rate": 0.001, "seed": 7}) == [
        "learning_rate (0.005 in the completed run, 0.001 now)"
    ]
    # a key the record does not have (a newer version's key) compares as its default
    assert differences({}, {"lora_rank": TrainConfig.model_fields["lora_rank"].default}) == []
    assert differences({}, {"lora_rank": 64}) == ["lora_rank (8 in the completed run, 64 now)"]
    assert differences({"logging_steps": 1}, {"logging_steps": 5}) == []  # does not count


def test_the_result_is_the_top_level_files_but_live_logs_and_the_record(tmp_path: Path) -> None:
    _finished(tmp_path, _config(tmp_path))
    (tmp_path / ".partial.tmp-1").write_text("x")
    assert [p.name for p in result_files(tmp_path)] == ["adapter_config.json", "adapter_model.safetensors"]


def test_the_record_is_written_whole_and_read_back(tmp_path: Path) -> None:
    record = _finished(tmp_path, _config(tmp_path))
    saved = json.loads((tmp_path / RECORD_FILE).read_text())
    assert saved["step"] == 12 and saved["fingerprint"] == record.fingerprint
    assert saved["artifacts"]["adapter_model.safetensors"]["size"] == 700
    assert not list(tmp_path.glob(".*tmp-*"))  # through a temporary file, then renamed
    assert read_record(tmp_path) == record
    assert verify_digests(record, tmp_path) == []
    (tmp_path / "adapter_config.json").write_text("{ }")
    assert verify_digests(record, tmp_path) == ["adapter_config.json"]


def test_the_same_config_finds_its_run_complete(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = _finished(tmp_path, config)
    assert completed_run(config) == record
    # what the operator changes for a restarted attempt does not make it another run
    restarted = _config(
        tmp_path, resume_from_checkpoint=str(tmp_path / "checkpoint-12"), overwrite_output_dir=True
    )
    assert completed_run(restarted) == record
    assert completion.complete_message(record, str(tmp_path)) == (
        f"run already complete at step 12; result in {tmp_path} (nothing to train)"
    )


def test_a_different_config_is_an_error_naming_the_keys_unless_overwriting(tmp_path: Path) -> None:
    _finished(tmp_path, _config(tmp_path))
    with pytest.raises(OutputDirError) as error:
        completed_run(_config(tmp_path, learning_rate=1e-3, lora_rank=16))
    message = str(error.value)
    assert "holds a completed run (step 12) of a different config" in message
    assert "learning_rate (0.005 in the completed run, 0.001 now)" in message
    assert "lora_rank (8 in the completed run, 16 now)" in message
    assert "overwrite_output_dir: true" in message
    assert completed_run(_config(tmp_path, learning_rate=1e-3, overwrite_output_dir=True)) is None


def test_a_changed_or_missing_result_is_not_complete(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _finished(tmp_path, config)
    (tmp_path / "adapter_model.safetensors").unlink()
    with pytest.raises(OutputDirError, match="adapter_model.safetensors is missing"):
        completed_run(config)
    assert completed_run(_config(tmp_path, overwrite_output_dir=True)) is None


def test_no_record_no_training_or_an_unreadable_record(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert completed_run(config) is None  # output_dir does not even exist
    _finished(tmp_path, config)
    assert completed_run(_config(tmp_path, do_train=False, do_eval=True)) is None
    (tmp_path / RECORD_FILE).write_text("{not json")
    with pytest.raises(OutputDirError, match="not a readable completion record"):
        completed_run(config)
