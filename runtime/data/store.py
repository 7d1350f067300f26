"""Tokenized datasets on disk, in LLaMA-Factory's `tokenized_path` layout: a `datasets` DatasetDict
saved with save_to_disk (split `train`, `validation` or `validation_<name>`), plus our manifest."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import MANIFEST
from .errors import DataError
from .processors.base import Columns

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


def has_tokenized_data(path: str | os.PathLike[str] | None) -> bool:
    """LLaMA-Factory's rule: an existing, non-empty folder holds a tokenized dataset."""
    return path is not None and Path(path).is_dir() and any(Path(path).iterdir())


def to_dataset(columns: Columns) -> Dataset:
    from datasets import Dataset

    return Dataset.from_dict(columns)


def save_splits(splits: dict[str, Columns], folder: Path, manifest: dict[str, Any]) -> DatasetDict:
    """Write the splits, then the manifest, into a temporary folder renamed into place: a folder
    with a manifest is always complete."""
    from datasets import DatasetDict

    data = DatasetDict({name: to_dataset(columns) for name, columns in splits.items()})
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    data.save_to_disk(str(tmp))
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(folder)
    return data


def copy_tokenized(source: Path, target: str | os.PathLike[str]) -> None:
    """Write a cached result to tokenized_path (replacing an empty folder, never a full one)."""
    target_path = Path(target)
    if has_tokenized_data(target_path):
        raise DataError(f"tokenized_path: {target_path} already holds data; remove it or choose another folder")
    if target_path.exists():
        target_path.rmdir()
    target_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target_path)


def load_tokenized(path: str | os.PathLike[str]) -> DatasetDict:
    from datasets import Dataset, DatasetDict, load_from_disk

    try:
        loaded = load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as err:
        raise DataError(
            f"tokenized_path: {path} is not a saved tokenized dataset ({err}); remove the folder to tokenize again"
        ) from None
    if isinstance(loaded, Dataset):
        return DatasetDict({"train": loaded})
    return loaded


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
