"""Read the rows of a local dataset file, or of a folder of files of one type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .dataset_info import DatasetAttr
from .errors import DataError

FILE_TYPES = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet", ".arrow": "arrow", ".txt": "text"}


def local_files(attr: DatasetAttr, dataset_dir: str | Path) -> list[Path]:
    assert attr.file_name is not None
    path = Path(dataset_dir) / attr.file_name
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"dataset '{attr.name}': file not found: {path} (file_name '{attr.file_name}' in {dataset_dir})")
    kinds = {FILE_TYPES.get(p.suffix) for p in files}
    if None in kinds or len(kinds) != 1:
        names = ", ".join(p.name for p in files)
        raise DataError(f"dataset '{attr.name}': files must share one type of {sorted(FILE_TYPES)}; found {names}")
    return files


def read_rows(files: list[Path], dataset_name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for file in files:
        rows.extend(_read_file(file, dataset_name))
    return rows


def _read_file(file: Path, dataset_name: str) -> list[dict[str, Any]]:
    kind = FILE_TYPES[file.suffix]
    if kind == "text":
        return [{"text": line} for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if kind == "json":
        return _read_json(file, dataset_name)
    import pyarrow.csv
    import pyarrow.feather
    import pyarrow.parquet

    if kind == "csv":
        return pyarrow.csv.read_csv(file).to_pylist()
    if kind == "parquet":
        return pyarrow.parquet.read_table(file).to_pylist()
    return _read_arrow(file)


def _read_json(file: Path, dataset_name: str) -> list[dict[str, Any]]:
    text = file.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"dataset '{dataset_name}': {file} is not valid JSON: {err}") from None
        return list(data)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(f"dataset '{dataset_name}': {file} line {number} is not valid JSON: {err}") from None
    return rows


def _read_arrow(file: Path) -> list[dict[str, Any]]:
    import pyarrow as pa

    with pa.memory_map(str(file)) as source:
        try:
            return pa.ipc.open_stream(source).read_all().to_pylist()
        except pa.ArrowInvalid:
            return pa.ipc.open_file(source).read_all().to_pylist()
