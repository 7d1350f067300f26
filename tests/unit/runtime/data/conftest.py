"""Fixtures of the data tests: a fresh tokenizer per test, a private cache (tiny_model, demo_data
and tiny_tokenizer come from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def tokenizer(tiny_model: Path) -> Any:
    """A fresh copy per test: templates fix the tokenizer in place (eos, stop words)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokenized results go to a cache of this test session, never the user's."""
    monkeypatch.setenv("KUBEFACTORY_CACHE", str(tmp_path_factory.getbasetemp() / "kubefactory-cache"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty dataset_dir for tests that write their own dataset_info.json and files."""
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


class DatasetWriter:
    """Adds datasets (rows as a JSON file plus a dataset_info.json entry) to one dataset_dir."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(
        self, name: str, rows: list[Any], entry: dict[str, Any] | None = None, file: str = ""
    ) -> Path:
        import json

        file = file or f"{name}.json"
        (self.folder / file).write_text(json.dumps(rows), encoding="utf-8")
        info_path = self.folder / "dataset_info.json"
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
        info[name] = {"file_name": file, **(entry or {})}
        info_path.write_text(json.dumps(info), encoding="utf-8")
        return self.folder


@pytest.fixture
def add_dataset(data_dir: Path) -> DatasetWriter:
    return DatasetWriter(data_dir)
