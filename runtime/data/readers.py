"""Read the rows of a local dataset file, or of a folder of files of one type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import DataError

FILE_TYPES = {
    ".json": "json",
    ".jsonl": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".txt": "text",
}


def data_files(path: Path, dataset_name: str, what: str) -> list[Path]:
    """The files of a file or folder, all of one type (sorted, so runs see the same order)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DataError(f"dataset '{dataset_name}': folder {path} ({what}) holds no files")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"dataset '{dataset_name}': file not found: {path} ({what})")
    kinds = {FILE_TYPES.get(p.suffix.lower()) for p in files}
    if None in kinds or len(kinds) != 1:
        names = ", ".join(p.name for p in files[:10])
        allowed = ", ".join(sorted(FILE_TYPES))
        raise DataError(f"dataset '{dataset_name}': files must share one type of {allowed}; found {names}")
    return files


def local_files(attr: Any, dataset_dir: str | Path) -> list[Path]:
    """The files named by file_name, relative to dataset_dir."""
    return data_files(
        Path(dataset_dir) / attr.file_name, attr.name, f"file_name '{attr.file_name}' in {dataset_dir}"
    )


def read_rows(files: list[Path], dataset_name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for file in files:
        rows.extend(_read_file(file, dataset_name))
    return rows


def iter_rows(files: list[Path], dataset_name: str) -> Iterator[dict[str, Any]]:
    """Rows one at a time (streaming): JSON lines and text are read lazily, other types per file."""
    for file in files:
        kind = FILE_TYPES[file.suffix.lower()]
        if kind == "text" or (kind == "json" and not _starts_with_bracket(file)):
            with file.open(encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if kind == "text":
                        yield {"text": line.rstrip("\n").rstrip("\r")}
                    elif line.strip():
                        yield _json_line(line, file, number, dataset_name)
        else:
            yield from _read_file(file, dataset_name)


def _starts_with_bracket(file: Path) -> bool:
    with file.open(encoding="utf-8") as handle:
        while chunk := handle.read(256):
            stripped = chunk.lstrip()
            if stripped:
                return stripped.startswith("[")
    return False


def _read_file(file: Path, dataset_name: str) -> list[dict[str, Any]]:
    kind = FILE_TYPES[file.suffix.lower()]
    if kind == "text":
        # one row per line, empty lines included, as the `datasets` text loader reads them
        return [{"text": line} for line in file.read_text(encoding="utf-8").splitlines()]
    if kind == "json":
        return _read_json(file, dataset_name)
    try:
        if kind == "csv":
            import pyarrow.csv

            return pyarrow.csv.read_csv(file).to_pylist()  # type: ignore[no-any-return]
        if kind == "parquet":
            import pyarrow.parquet

            return pyarrow.parquet.read_table(file).to_pylist()  # type: ignore[no-any-return]
        return _read_arrow(file)
    except Exception as err:  # pyarrow raises its own error types per format
        raise DataError(f"dataset '{dataset_name}': cannot read {file} as {kind}: {err}") from None


def _json_line(line: str, file: Path, number: int, dataset_name: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(f"dataset '{dataset_name}': {file} line {number} is not valid JSON: {err}") from None
    if not isinstance(row, dict):
        raise DataError(
            f"dataset '{dataset_name}': {file} line {number} must be a JSON object, got {type(row).__name__}"
        )
    return row


def _read_json(file: Path, dataset_name: str) -> list[dict[str, Any]]:
    text = file.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"dataset '{dataset_name}': {file} is not valid JSON: {err}") from None
        bad = next((i for i, row in enumerate(data) if not isinstance(row, dict)), None)
        if bad is not None:
            raise DataError(f"dataset '{dataset_name}': {file} item {bad} must be a JSON object (one row)")
        return list(data)
    return [
        _json_line(line, file, number, dataset_name)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _read_arrow(file: Path) -> list[dict[str, Any]]:
    import pyarrow as pa

    with pa.memory_map(str(file)) as source:
        try:
            return pa.ipc.open_stream(source).read_all().to_pylist()  # type: ignore[no-any-return]
        except pa.ArrowInvalid:
            return pa.ipc.open_file(source).read_all().to_pylist()  # type: ignore[no-any-return]
