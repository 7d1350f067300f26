"""Files a run leaves in output_dir, written so that readers never see half a file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TRAINER_LOG = "trainer_log.jsonl"
PROGRESS_FILE = "progress.json"


def write_json_atomic(path: str | Path, data: Any) -> None:
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, target)


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    file = Path(path)
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
