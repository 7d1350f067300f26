"""The tokenized_path layout: a datasets DatasetDict on disk, as LLaMA-Factory writes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubefactory.runtime.data.errors import DataError
from kubefactory.runtime.data.store import (
    copy_tokenized,
    has_tokenized_data,
    load_tokenized,
    read_manifest,
    save_splits,
)

SPLITS = {
    "train": {
        "input_ids": [[1, 2], [3]],
        "attention_mask": [[1, 1], [1]],
        "labels": [[-100, 2], [3]],
        "images": [None, None],
    },
    "validation": {"input_ids": [[4]], "attention_mask": [[1]], "labels": [[4]], "images": [None]},
}


def test_saved_splits_load_back_with_llamafactorys_reader(tmp_path: Path) -> None:
    from datasets import load_from_disk

    save_splits(SPLITS, tmp_path / "out", {"fingerprint": "abc"})
    loaded = load_from_disk(str(tmp_path / "out"))
    assert sorted(loaded) == ["train", "validation"]
    assert loaded["train"]["labels"] == [[-100, 2], [3]]
    assert read_manifest(tmp_path / "out") == {"fingerprint": "abc"}
    assert not list(tmp_path.glob("out.tmp-*"))


def test_has_tokenized_data_means_a_non_empty_folder(tmp_path: Path) -> None:
    assert not has_tokenized_data(tmp_path / "absent") and not has_tokenized_data(None)
    assert not has_tokenized_data(tmp_path)
    (tmp_path / "x").write_text("x", encoding="utf-8")
    assert has_tokenized_data(tmp_path)


def test_copy_refuses_to_overwrite_data(tmp_path: Path) -> None:
    save_splits(SPLITS, tmp_path / "cache", {})
    (tmp_path / "empty").mkdir()
    copy_tokenized(tmp_path / "cache", tmp_path / "empty")
    assert load_tokenized(tmp_path / "empty")["validation"]["input_ids"] == [[4]]
    with pytest.raises(
        DataError, match="tokenized_path: .*empty already holds data; remove it or choose another folder"
    ):
        copy_tokenized(tmp_path / "cache", tmp_path / "empty")


def test_a_folder_that_is_not_a_dataset_is_named(tmp_path: Path) -> None:
    (tmp_path / "junk.txt").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="tokenized_path: .* is not a saved tokenized dataset"):
        load_tokenized(tmp_path)


def test_a_single_saved_dataset_becomes_the_train_split(tmp_path: Path) -> None:
    from datasets import Dataset

    Dataset.from_dict(SPLITS["validation"]).save_to_disk(str(tmp_path / "one"))
    assert list(load_tokenized(tmp_path / "one")) == ["train"]


def test_token_columns_get_datasets_integer_types_and_keep_their_values() -> None:
    from kubefactory.runtime.data.store import to_dataset

    columns = {"input_ids": [[1, 2], [], [3]], "attention_mask": [[1, 1], [], [200]], "labels": [[-100, 2], [], [3]],
               "kto_tags": [True, False, True], "images": [None, ["a.png"], None]}  # fmt: skip
    data = to_dataset(columns)
    types = {name: str(feature) for name, feature in data.features.items()}
    assert "int32" in types["input_ids"] and "int64" in types["labels"]
    assert "int32" in types["attention_mask"]  # 200 does not fit int8: a neat-packing mask keeps its numbers
    assert data.to_dict() == columns
