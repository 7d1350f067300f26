"""dataset_info.json entries: defaults, source precedence, and errors that name the entry."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.data.dataset_info import DatasetAttr, resolve_datasets
from kubefactory.runtime.data.errors import DataError


def write_info(folder: Path, info: Any) -> Path:
    (folder / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("entry", "env", "load_from", "location"),
    [
        ({"file_name": "a.json"}, {}, "file", "a.json"),
        ({"hf_hub_url": "o/a", "file_name": "a.json"}, {}, "hf_hub", "o/a"),
        ({"hf_hub_url": "o/a", "ms_hub_url": "m/a"}, {}, "hf_hub", "o/a"),
        ({"hf_hub_url": "o/a", "ms_hub_url": "m/a"}, {"USE_MODELSCOPE_HUB": "1"}, "ms_hub", "m/a"),
        ({"ms_hub_url": "m/a"}, {}, "ms_hub", "m/a"),
        ({"hf_hub_url": "o/a", "om_hub_url": "p/a"}, {"USE_OPENMIND_HUB": "true"}, "om_hub", "p/a"),
        ({"script_url": "folder", "cloud_file_name": "s3://b/a.json"}, {}, "script", "folder"),
        ({"cloud_file_name": "s3://b/a.json", "file_name": "a.json"}, {}, "cloud_file", "s3://b/a.json"),
    ],
)
def test_source_precedence(
    entry: dict[str, str], env: dict[str, str], load_from: str, location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("USE_MODELSCOPE_HUB", "USE_OPENMIND_HUB"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    attr = DatasetAttr.model_validate(entry)
    assert (attr.load_from, attr.location) == (load_from, location)


def test_defaults_follow_llamafactory() -> None:
    attr = DatasetAttr.model_validate({"file_name": "a.json"})
    assert (attr.formatting, attr.ranking, attr.split) == ("alpaca", False, "train")
    assert (attr.columns.prompt, attr.columns.query, attr.columns.response, attr.columns.messages) == (
        "instruction", "input", "output", "conversations",
    )  # fmt: skip
    assert (attr.tags.role_tag, attr.tags.user_tag, attr.tags.assistant_tag) == ("from", "human", "gpt")


def test_unknown_column_keys_are_ignored_with_a_hint(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        attr = DatasetAttr.model_validate({"file_name": "a", "columns": {"promt": "q"}})
    assert attr.columns.prompt == "instruction"
    assert "ignoring unknown keys 'promt' (did you mean 'prompt'?)" in caplog.text


def test_resolve_reports_every_unknown_name(data_dir: Path) -> None:
    write_info(data_dir, {"alpaca": {"file_name": "a.json"}})
    with pytest.raises(
        DataError,
        match="dataset 'alpac' \\(did you mean 'alpaca'\\?\\), 'zzz' not defined in .*defined: alpaca",
    ):
        resolve_datasets(["alpac", "zzz"], data_dir)


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (
            {"a": {"formatting": "xml", "file_name": "a"}},
            "dataset 'a' in .*: formatting: Input should be 'alpaca', 'sharegpt' or 'openai'",
        ),
        (
            {"a": {"num_samples": 0, "file_name": "a"}},
            "dataset 'a' in .*: num_samples: Input should be greater than or equal to 1",
        ),
        ({"a": {"ranking": True}}, "dataset 'a' in .* names no source: set file_name, hf_hub_url"),
        ({"a": "a.json"}, "dataset 'a' in .* must be an object, got str"),
    ],
)
def test_bad_entries_are_named(data_dir: Path, info: dict[str, Any], message: str) -> None:
    write_info(data_dir, info)
    with pytest.raises(DataError, match=message):
        resolve_datasets(["a"], data_dir)


def test_missing_or_broken_dataset_info(data_dir: Path) -> None:
    with pytest.raises(
        DataError, match="dataset_info.json not found: dataset_dir must be the folder holding"
    ):
        resolve_datasets(["a"], data_dir)
    (data_dir / "dataset_info.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(DataError, match="dataset_info.json is not valid JSON"):
        resolve_datasets(["a"], data_dir)
    write_info(data_dir, ["a"])
    with pytest.raises(DataError, match="must be a JSON object mapping dataset names to descriptions"):
        resolve_datasets(["a"], data_dir)


def test_online_dataset_dir_treats_names_as_hub_ids() -> None:
    attrs = resolve_datasets(["org/data"], "ONLINE")
    assert (attrs[0].load_from, attrs[0].location) == ("hf_hub", "org/data")
