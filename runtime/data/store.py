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
from .processors.base import Columns, all_ones

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


def has_tokenized_data(path: str | os.PathLike[str] | None) -> bool:
    """LLaMA-Factory's rule: an existing, non-empty folder holds a tokenized dataset."""
    return path is not None and Path(path).is_dir() and any(Path(path).iterdir())


# The integer types `datasets` gives these columns when it writes them (the rest are int64).
_INT_TYPES = {
    "input_ids": "int32",
    "attention_mask": "int8",
    "token_type_ids": "int8",
    "special_tokens_mask": "int8",
}


def _token_column(name: str, rows: list[list[int]]) -> Any:
    """A list-of-ints column straight from one flat numpy array: several times faster than
    letting Arrow walk millions of Python ints one list at a time."""
    from itertools import chain

    import numpy as np
    import pyarrow as pa

    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum([len(row) for row in rows], out=offsets[1:])
    dtype = _INT_TYPES.get(name, "int64")
    if all_ones(rows):  # attention masks without padding: nothing to read
        values = np.ones(int(offsets[-1]), dtype=dtype)
        return pa.ListArray.from_arrays(
            pa.array(offsets), pa.array(values, type=pa.from_numpy_dtype(values.dtype))
        )
    values = np.array(list(chain.from_iterable(rows)), dtype=np.int64)
    if values.size and not (np.iinfo(dtype).min <= values.min() and values.max() <= np.iinfo(dtype).max):
        dtype = "int32"  # e.g. neat packing numbers more than 127 examples in one attention mask
    values = values.astype(dtype)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(values, type=pa.from_numpy_dtype(values.dtype))
    )


def _is_token_column(rows: list[Any]) -> bool:
    if not all(type(row) is list for row in rows):
        return False
    first = next((row for row in rows if row), None)
    return first is not None and type(first[0]) is int


def to_dataset(columns: Columns) -> Dataset:
    import pyarrow as pa
    from datasets import Dataset

    if not columns or not all(len(values) for values in columns.values()):
        return Dataset.from_dict(columns)
    arrays = {
        name: _token_column(name, values) if _is_token_column(values) else pa.array(values)
        for name, values in columns.items()
    }
    return Dataset(pa.table(arrays))


def save_splits(splits: dict[str, Columns], folder: Path, manifest: dict[str, Any]) -> DatasetDict:
    """Write the splits, then the manifest, into a temporary folder renamed into place: a folder
    with a manifest is always complete."""
    import datasets.utils as progress
    from datasets import DatasetDict

    data = DatasetDict({name: to_dataset(columns) for name, columns in splits.items()})
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    quiet = progress.are_progress_bars_disabled()
    progress.disable_progress_bars()  # a progress bar per split says nothing the summary does not
    try:
        data.save_to_disk(str(tmp))
    finally:
        if not quiet:
            progress.enable_progress_bars()
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(folder)
    return data


def copy_tokenized(source: Path, target: str | os.PathLike[str]) -> None:
    """Write a cached result to tokenized_path (replacing an empty folder, never a full one)."""
    target_path = Path(target)
    if has_tokenized_data(target_path):
        raise DataError(
            f"tokenized_path: {target_path} already holds data; remove it or choose another folder"
        )
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
