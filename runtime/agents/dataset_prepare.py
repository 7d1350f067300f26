"""`kubefactory dataset prepare`: check every row of one dataset and write the usable ones once.

What the operator's prepare Job runs for a Dataset. The dataset is described by one
``dataset_info.json`` entry (``--entry``); each row goes through the data layer's own checks (the
format converter, the stage's requirements, media placeholders), exactly as training would read
it. The kept rows are written unchanged as JSON lines (``data.jsonl``) next to a
``dataset_info.json`` that reads them the same way, and a JSON report (kept, skipped with the most
common reasons, size, fingerprint) is printed and written to ``--termination-log``, which is how
the report reaches the operator: no exec into the pod and no access to its volume.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract.names import DATASET_INFO_FILE, PREPARED_FILE, REPORT_FILE, TERMINATION_LIMIT
from ..contract.prepare import PrepareReport, SkipReason
from ..errors import UserError

KINDS = ("auto", "pretrain", "supervised", "pairwise", "feedback", "unsupervised")
SUMMARY = (
    "check every row of one dataset and write the usable rows once (what the operator's prepare Job runs)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    dataset = subparsers.add_parser("dataset", help="dataset tools", description="Dataset tools.")
    actions = dataset.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    parser = actions.add_parser("prepare", help=SUMMARY, description=SUMMARY)
    parser.add_argument("--name", required=True, help="the dataset's name")
    parser.add_argument("--entry", required=True, help="its dataset_info.json entry, as JSON")
    parser.add_argument("--dataset-dir", required=True, help="folder file_name is relative to")
    parser.add_argument(
        "--output", required=True, help="folder to write data.jsonl, dataset_info.json and report.json"
    )
    parser.add_argument(
        "--kind",
        choices=KINDS,
        default="auto",
        help="which stage's rules rows must meet; default: from the entry",
    )
    parser.add_argument("--download", help="an https:// URL to fetch into --dataset-dir first (as file_name)")
    parser.add_argument("--termination-log", help="also write the report here (a pod's /dev/termination-log)")
    parser.set_defaults(handler=run)


@dataclass
class Report:
    rows: int = 0
    kept: int = 0
    skipped: int = 0
    reasons: list[tuple[str, int, str]] = field(default_factory=list)  # (reason, count, first example)
    size_bytes: int = 0
    fingerprint: str = ""
    error: str | None = None

    def to_json(self, limit: int = TERMINATION_LIMIT) -> str:
        """Compact JSON that fits in ``limit`` bytes: long reasons are cut, the rarest dropped first."""
        report = PrepareReport(
            rows=self.rows,
            kept=self.kept,
            skipped=self.skipped,
            skip_reasons=[SkipReason(reason=r[:300], count=c, example=e) for r, c, e in self.reasons],
            size_bytes=self.size_bytes,
            fingerprint=self.fingerprint,
            file=PREPARED_FILE,
            error=self.error[:1000] if self.error else None,
        )
        return report.to_json(limit)


def auto_kind(entry: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The rules a dataset is checked against when the stage is not known yet.

    Ranking data is pairwise, data with a KTO tag is feedback; alpaca data that names its own
    prompt column (``columns: {prompt: text}``, as LLaMA-Factory's pretraining sets do) and whose
    rows never carry a response is pretraining text; everything else is supervised.
    """
    columns = entry.get("columns") or {}
    if entry.get("ranking"):
        return "pairwise"
    if columns.get("kto_tag"):
        return "feedback"
    names_text = (
        entry.get("formatting", "alpaca") == "alpaca"
        and columns.get("prompt")
        and not columns.get("response")
    )
    if names_text and rows and not any(row.get("output") for row in rows):
        return "pretrain"
    return "supervised"


def download(url: str, folder: Path, file_name: str) -> None:
    if not url.startswith("https://"):
        raise UserError(f"--download: only https:// URLs are fetched, got {url}")
    folder.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=300) as response, (folder / file_name).open("wb") as out:
        shutil.copyfileobj(response, out)


def check_rows(
    name: str, entry: dict[str, Any], dataset_dir: str, kind: str
) -> tuple[list[dict[str, Any]], Report]:
    """Every row through the data layer's checks; the kept rows as read, and what was skipped."""
    from ..data.dataset_info import DatasetAttr
    from ..data.loader import LoadOptions, RowChecker, check_ranking
    from ..data.sources import open_source

    attr = DatasetAttr.model_validate({**entry, "name": name})
    if attr.load_from == "none":
        raise UserError(
            f"dataset '{name}': the entry names no source (file_name, hf_hub_url or cloud_file_name)"
        )
    source = open_source(attr, dataset_dir)
    rows = [dict(row) for row in source.rows]
    kind = auto_kind(entry, rows) if kind == "auto" else kind
    check_ranking(attr, kind, stage=kind)
    checker = RowChecker(attr, LoadOptions(dataset_dir=dataset_dir, kind=kind), source.local)
    kept = [row for number, row in enumerate(rows) if checker(number, row) is not None]
    counts = Counter(skipped.reason for skipped in checker.skipped)
    first: dict[str, str] = {}
    for skipped in checker.skipped:
        first.setdefault(skipped.reason, f"row {skipped.row}")
    reasons = [(reason, count, first[reason]) for reason, count in counts.most_common(10)]
    return kept, Report(rows=len(rows), kept=len(kept), skipped=len(checker.skipped), reasons=reasons)


def write_prepared(
    output: Path, name: str, entry: dict[str, Any], kept: list[dict[str, Any]], report: Report
) -> None:
    """data.jsonl, dataset_info.json and report.json, swapped in whole so readers never see half."""
    staging = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    lines = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str) + "\n" for row in kept)
    data = lines.encode()
    (staging / PREPARED_FILE).write_bytes(data)
    reading = {
        key: value
        for key, value in entry.items()
        if key not in ("file_name", "hf_hub_url", "cloud_file_name", "subset", "split")
    }
    info = {name: {**reading, "file_name": PREPARED_FILE}}
    (staging / DATASET_INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True))
    digest = hashlib.sha256(json.dumps(info, sort_keys=True).encode() + data).hexdigest()
    report.size_bytes, report.fingerprint = len(data), f"sha256:{digest}"
    (staging / REPORT_FILE).write_text(report.to_json(limit=1 << 20))
    shutil.rmtree(output, ignore_errors=True)
    staging.rename(output)


def prepare(args: argparse.Namespace) -> Report:
    from ..data.errors import DataError

    try:
        entry = json.loads(args.entry)
    except json.JSONDecodeError as err:
        raise UserError(f"--entry is not JSON: {err}") from None
    if not isinstance(entry, dict):
        raise UserError("--entry must be a JSON object (one dataset_info.json entry)")
    if args.download:
        download(args.download, Path(args.dataset_dir), str(entry.get("file_name")))
    try:
        kept, report = check_rows(args.name, entry, args.dataset_dir, args.kind)
    except (DataError, UserError) as err:
        return Report(error=str(err))
    if not kept:
        top = "; ".join(
            f"{count}× {reason} (first: {example})" for reason, count, example in report.reasons[:3]
        )
        report.error = (
            f"dataset '{args.name}': no valid samples among {report.rows} rows; most common reasons: {top}"
            if report.rows
            else f"dataset '{args.name}' has no rows"
        )
        return report
    write_prepared(Path(args.output), args.name, entry, kept, report)
    return report


def run(args: argparse.Namespace) -> int:
    report = prepare(args)
    text = report.to_json()
    print(text)
    if args.termination_log:
        Path(args.termination_log).write_text(text)
    if report.error:
        print(f"kubefactory dataset prepare: error: {report.error}", file=sys.stderr)
        return 1
    return 0
