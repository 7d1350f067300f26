"""Every file type dataset_info.json allows, single files and folders, and unreadable files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubefactory.runtime.data.errors import DataError
from kubefactory.runtime.data.readers import data_files, iter_rows, read_rows

ROWS = [{"instruction": "q1", "output": "a1"}, {"instruction": "q2", "output": "a2"}]


def write(folder: Path, name: str) -> Path:
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet

    path = folder / name
    table = pa.Table.from_pylist(ROWS)
    suffix = path.suffix
    if suffix == ".json":
        path.write_text(json.dumps(ROWS), encoding="utf-8")
    elif suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n", encoding="utf-8")
    elif suffix == ".csv":
        pyarrow.csv.write_csv(table, path)
    elif suffix == ".parquet":
        pyarrow.parquet.write_table(table, path)
    elif suffix == ".arrow":
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return path


@pytest.mark.parametrize("name", ["d.json", "d.jsonl", "d.csv", "d.parquet", "d.arrow"])
def test_each_file_type_reads_the_same_rows(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name)
    assert read_rows(data_files(path, "d", "file_name"), "d") == ROWS
    assert list(iter_rows([path], "d")) == ROWS


def test_text_files_give_one_row_per_line(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_text("first\n\nthird\n", encoding="utf-8")
    assert read_rows([path], "d") == [{"text": "first"}, {"text": ""}, {"text": "third"}]
    assert list(iter_rows([path], "d")) == [{"text": "first"}, {"text": ""}, {"text": "third"}]


def test_a_folder_reads_its_files_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text(json.dumps(ROWS[1]), encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(json.dumps(ROWS[0]), encoding="utf-8")
    (tmp_path / ".hidden").write_text("x", encoding="utf-8")
    assert read_rows(data_files(tmp_path, "d", "file_name"), "d") == ROWS


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"a.json": "[]", "b.csv": "x"},
            "dataset 'd': files must share one type of .arrow, .csv, .json, .jsonl, .parquet, .txt; found a.json, b.csv",
        ),
        ({"a.xlsx": "x"}, "files must share one type"),
    ],
)
def test_mixed_or_unknown_types_are_refused(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        data_files(tmp_path, "d", "file_name")


def test_missing_file_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match="dataset 'd': file not found: .*nope.json \\(file_name 'nope.json'\\)"
    ):
        data_files(tmp_path / "nope.json", "d", "file_name 'nope.json'")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="folder .*empty \\(file_name\\) holds no files"):
        data_files(tmp_path / "empty", "d", "file_name")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("d.json", "[{]", "dataset 'd': .*d.json is not valid JSON"),
        ("d.json", "[1, 2]", "d.json item 0 must be a JSON object"),
        ("d.jsonl", '{"a": 1}\n{oops\n', "d.jsonl line 2 is not valid JSON"),
        ("d.jsonl", '{"a": 1}\n[1]\n', "d.jsonl line 2 must be a JSON object, got list"),
        ("d.parquet", "not parquet", "dataset 'd': cannot read .*d.parquet as parquet"),
    ],
)
def test_unreadable_files_name_the_place(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_rows([path], "d")
