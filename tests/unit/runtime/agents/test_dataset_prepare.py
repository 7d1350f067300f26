"""`kubefactory dataset prepare`: every row checked by the data layer, usable rows written once, a report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.agents.dataset_prepare import Report, auto_kind
from kubefactory.runtime.cli import main


def prepare(
    tmp_path: Path, source: Path, entry: dict[str, Any], *extra: str
) -> tuple[int, dict[str, Any], Path]:
    output, log = tmp_path / "prepared" / "abc", tmp_path / "termination-log"
    code = main(
        [
            "dataset", "prepare", "--name", "identity", "--entry", json.dumps(entry),
            "--dataset-dir", str(source), "--output", str(output), "--termination-log", str(log), *extra,
        ]
    )  # fmt: skip
    return code, json.loads(log.read_text()), output


@pytest.fixture
def identity_with_bad_rows(tmp_path: Path, demo_data: Path) -> Path:
    rows = json.loads((demo_data / "identity.json").read_text())
    rows += [{"instruction": "no answer"}, {"instruction": "still none"}, {"output": ["not", "text"]}]
    source = tmp_path / "source"
    source.mkdir()
    (source / "identity.json").write_text(json.dumps(rows))
    return source


def test_demo_data_with_bad_rows(tmp_path: Path, identity_with_bad_rows: Path, demo_data: Path) -> None:
    good = len(json.loads((demo_data / "identity.json").read_text()))
    code, report, output = prepare(tmp_path, identity_with_bad_rows, {"file_name": "identity.json"})
    assert code == 0
    assert (report["rows"], report["kept"], report["skipped"]) == (good + 3, good, 3)
    (reason,) = report["skipReasons"]
    assert (reason["count"], reason["example"]) == (3, f"row {good}")  # counted, with the first row
    assert reason["reason"].startswith("sft needs exactly one answer to learn, this row has none")
    lines = (output / "data.jsonl").read_text().splitlines()
    assert len(lines) == good and report["sizeBytes"] == (output / "data.jsonl").stat().st_size
    assert report["fingerprint"].startswith("sha256:")
    assert json.loads((output / "report.json").read_text()) == report


def test_reasons_are_counted_most_common_first(tmp_path: Path) -> None:
    human, gpt = {"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}
    rows = [{"conversations": [human, gpt]}, {"conversations": [human]}, {"conversations": [gpt, human]}]
    rows += [{"conversations": [human, human]}] * 2
    source = tmp_path / "source"
    source.mkdir()
    (source / "chats.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, report, _ = prepare(tmp_path, source, {"file_name": "chats.jsonl", "formatting": "sharegpt"})
    assert code == 0 and (report["kept"], report["skipped"]) == (1, 4)
    assert [(r["count"], r["example"]) for r in report["skipReasons"]] == [
        (2, "row 3"),
        (1, "row 1"),
        (1, "row 2"),
    ]
    assert (
        report["skipReasons"][0]["reason"]
        == "message 2 has role 'human' where 'gpt' or 'function_call' is expected"
    )


def test_the_prepared_copy_reads_back_through_the_data_layer(
    tmp_path: Path, identity_with_bad_rows: Path
) -> None:
    from kubefactory.runtime.data.dataset_info import resolve_datasets
    from kubefactory.runtime.data.loader import LoadOptions, load_dataset
    from kubefactory.runtime.data.pipeline import _rng

    _, report, output = prepare(
        tmp_path, identity_with_bad_rows, {"file_name": "identity.json", "formatting": "alpaca"}
    )
    (attr,) = resolve_datasets(["identity"], output)
    loaded = load_dataset(attr, LoadOptions(dataset_dir=str(output), kind="supervised"), _rng(0), "sft")
    assert loaded.kept == report["kept"] and not loaded.skipped


def test_the_fingerprint_follows_content_and_reading(tmp_path: Path, demo_data: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(demo_data, source, ignore=shutil.ignore_patterns("*.zip", "*.png", "*.mp4", "*.mp3"))
    _, first, _ = prepare(tmp_path, source, {"file_name": "identity.json"})
    _, again, _ = prepare(tmp_path, source, {"file_name": "identity.json"})
    _, other, _ = prepare(tmp_path, source, {"file_name": "alpaca_en_demo.json"})
    assert first["fingerprint"] == again["fingerprint"] != other["fingerprint"]


def test_no_usable_row_fails_with_the_reasons(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "bad.json").write_text(json.dumps([{"instruction": "q"}] * 4))
    code, report, output = prepare(tmp_path, source, {"file_name": "bad.json"}, "--kind", "supervised")
    assert code == 1 and report["kept"] == 0 and report["skipped"] == 4
    assert report["error"].startswith(
        "dataset 'identity': no valid samples among 4 rows; most common reasons: 4× sft needs"
    )
    assert not output.exists()


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    code, report, _ = prepare(tmp_path, tmp_path, {"file_name": "missing.json"})
    assert code == 1
    assert "file not found" in report["error"] and "missing.json" in report["error"]


@pytest.mark.parametrize(
    ("entry", "rows", "kind"),
    [
        ({"ranking": True}, [], "pairwise"),
        ({"columns": {"kto_tag": "label"}}, [], "feedback"),
        ({}, [{"instruction": "a question with no answer"}], "supervised"),  # bad sft rows, not text
        ({"columns": {"prompt": "text"}}, [{"text": "plain text"}], "pretrain"),
        ({}, [{"instruction": "q", "output": "a"}], "supervised"),
        ({"formatting": "sharegpt"}, [{"conversations": []}], "supervised"),
    ],
)
def test_auto_kind(entry: dict[str, Any], rows: list[dict[str, Any]], kind: str) -> None:
    assert auto_kind(entry, rows) == kind


def test_the_report_fits_a_termination_message() -> None:
    reasons = [(f"{i}" + "x" * 2000, 30 - i, f"row {i}") for i in range(30)]
    report = Report(rows=10**6, kept=1, skipped=10**6 - 1, reasons=reasons)
    text = report.to_json()
    assert len(text.encode()) <= 4096
    data = json.loads(text)
    assert data["skipped"] == 10**6 - 1
    kept = data["skipReasons"]
    assert 0 < len(kept) < 30 and all(len(r["reason"]) == 300 for r in kept)
    assert [r["count"] for r in kept] == list(range(30, 30 - len(kept), -1))  # the rarest are dropped first
