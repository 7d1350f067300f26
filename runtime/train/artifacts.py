"""Files a run leaves in output_dir, written so that readers never see half a file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..contract.names import PROGRESS_FILE as PROGRESS_FILE  # the name the operator reads it by

TRAINER_LOG = "trainer_log.jsonl"
RUN_COMPLETE = "kubefactory-run-complete.json"  # the completion record (completion.py), written last


def write_json_atomic(path: str | Path, data: Any) -> None:
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, target)


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


ALL_RESULTS = "all_results.json"


def save_metrics(output_dir: str | Path, split: str, metrics: dict[str, Any], is_main: bool = True) -> None:
    """`{split}_results.json` and the merged `all_results.json`, as the Trainer names them; main
    process only, each file replaced atomically."""
    if not is_main:
        return
    folder = Path(output_dir)
    clean = {key: _plain(value) for key, value in metrics.items()}
    write_json_atomic(folder / f"{split}_results.json", clean)
    merged: dict[str, Any] = {}
    if (folder / ALL_RESULTS).is_file():
        try:
            merged = json.loads((folder / ALL_RESULTS).read_text(encoding="utf-8"))
        except ValueError:
            merged = {}
    merged.update(clean)
    write_json_atomic(folder / ALL_RESULTS, merged)


def _plain(value: Any) -> Any:
    """numpy and torch scalars as plain numbers."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
