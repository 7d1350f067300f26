"""The cache key: the same inputs give the same key, any input that changes tokens changes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.data.cache import fingerprint, tokenizer_fingerprint
from kubefactory.runtime.data.dataset_info import resolve_datasets


@pytest.fixture
def folder(add_dataset: Any) -> Path:
    return add_dataset("one", [{"instruction": "q", "output": "a"}])


def key(folder: Path, tiny_model: Path, tokenizer: Any = None, **values: Any) -> str | None:
    cfg = validate_config({"model_name_or_path": str(tiny_model), "dataset": "one", "dataset_dir": str(folder),
                           "template": "qwen", **values})  # fmt: skip
    return fingerprint(cfg, resolve_datasets(["one"], folder), tokenizer)


@pytest.mark.parametrize(
    "change",
    [{"cutoff_len": 64}, {"template": "chatml"}, {"train_on_prompt": True}, {"packing": True}, {"val_size": 0.5},
     {"preprocessing_num_workers": 2}, {"default_system": "S"}, {"max_samples": 1}, {"stage": "pt"}],
)  # fmt: skip
def test_each_processing_option_changes_the_key(
    folder: Path, tiny_model: Path, change: dict[str, Any]
) -> None:
    assert key(folder, tiny_model) == key(folder, tiny_model)
    assert key(folder, tiny_model, **change) != key(folder, tiny_model)


def test_data_content_and_description_change_the_key(
    add_dataset: Any, folder: Path, tiny_model: Path
) -> None:
    before = key(folder, tiny_model)
    add_dataset("one", [{"instruction": "q2", "output": "a"}])
    after_content = key(folder, tiny_model)
    add_dataset("one", [{"instruction": "q2", "output": "a"}], {"columns": {"query": None}})
    assert len({before, after_content, key(folder, tiny_model)}) == 3


def test_tokenizer_files_change_the_key(folder: Path, tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    assert key(folder, copy) == key(folder, tiny_model)  # the files, not the folder's name
    config_file = copy / "tokenizer_config.json"
    config_file.write_text(
        config_file.read_text(encoding="utf-8").replace("<|im_end|>", "<|endoftext|>"), encoding="utf-8"
    )
    assert key(folder, copy) != key(folder, tiny_model)


def test_a_hub_tokenizer_not_on_disk_is_fingerprinted_from_its_state(folder: Path, tokenizer: Any) -> None:
    cfg = validate_config(
        {"model_name_or_path": "org/not-downloaded", "dataset": "one", "dataset_dir": str(folder)}
    )
    assert tokenizer_fingerprint(cfg) is None
    assert tokenizer_fingerprint(cfg, tokenizer) is not None
    assert key(folder, Path("org/not-downloaded")) is None  # not cacheable without the tokenizer
