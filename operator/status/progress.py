"""The runtime's progress record (``output_dir/progress.json``) → ``status.progress``.

The record is :class:`kubefactory.runtime.contract.progress.ProgressRecord`, written by the
runtime's trainer callback (step, totalSteps, epoch, loss, learningRate, tokensPerSecond,
etaSeconds, latestCheckpoint, updatedAt). It reaches the operator as
the ``progress.json`` key of the job's progress ConfigMap. A record that is not JSON is ignored
(the previous progress stays); a bad value drops that value only.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from kubefactory.runtime.contract.progress import ProgressRecord
from pydantic import ValidationError

from ..api.finetunejob import Progress

# record keys named differently in status.progress; latestCheckpoint goes to status.checkpoints
RENAMED = {"updatedAt": "updateTime"}
NOT_PROGRESS = ("latestCheckpoint",)
# record key → status.progress key
FIELDS = {key: RENAMED.get(key, key) for key in ProgressRecord.record_keys() if key not in NOT_PROGRESS}


def read_record(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def summary(step: int | None, total: int | None) -> str | None:
    """``120/1000 (12%)`` for kubectl get."""
    if step is None:
        return None
    if not total:
        return str(step)
    return f"{step}/{total} ({step * 100 // total}%)"


def _valid(values: dict[str, Any]) -> dict[str, Any]:
    """Values Progress accepts; each rejected one is dropped rather than losing the whole record."""
    for _ in range(len(values) + 1):
        try:
            Progress.model_validate(values)
            return values
        except ValidationError as err:
            bad = {str(error["loc"][0]) for error in err.errors() if error["loc"]}
            values = {key: value for key, value in values.items() if key not in bad}
    return {}


def progress_status(record: dict[str, Any]) -> dict[str, Any]:
    values = {status_key: record[key] for key, status_key in FIELDS.items() if record.get(key) is not None}
    values = _valid(values)
    if (text := summary(values.get("step"), values.get("totalSteps"))) is not None:
        values["summary"] = text
    return values


def checkpoint_name(record: dict[str, Any]) -> str | None:
    """The latest complete checkpoint's folder name (the runtime writes a name; a path works too)."""
    latest = record.get("latestCheckpoint")
    if not isinstance(latest, str) or not latest.strip():
        return None
    name = posixpath.basename(latest.rstrip("/"))
    return name if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) else None
