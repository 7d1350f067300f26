"""Checkpoints you can trust: which are complete, which to resume from, which to delete.

A checkpoint is complete once `COMPLETE_MARKER` is in it. The marker is written by rank 0 after
every rank has finished writing its part of the checkpoint (see `CheckpointCallback`), so a crash
while saving — on any rank — leaves a folder without it, which is ignored here with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
COMPLETE_MARKER = "kubefactory-complete.json"


def checkpoints(output_dir: str | Path) -> list[Path]:
    """checkpoint-N folders, oldest step first."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))
    ]
    return [p for _, p in sorted(found)]


def step_of(checkpoint: Path) -> int:
    match = _CHECKPOINT.match(checkpoint.name)
    return int(match.group(1)) if match else -1


def is_complete(checkpoint: Path) -> bool:
    return (checkpoint / COMPLETE_MARKER).is_file()


def latest_complete_checkpoint(output_dir: str | Path, warn: bool = True) -> Path | None:
    """The newest checkpoint that was fully written; incomplete ones are skipped with a warning."""
    for checkpoint in reversed(checkpoints(output_dir)):
        if is_complete(checkpoint):
            return checkpoint
        if warn:
            log.warning(
                "ignoring incomplete checkpoint %s (no %s: it was cut off while saving, or not written by "
                "KubeFactory; set resume_from_checkpoint to use it anyway)",
                checkpoint,
                COMPLETE_MARKER,
            )
    return None


def sync_folder(folder: Path) -> None:
    """Flush every file of a folder to stable storage, so the marker never outlives the data."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def mark_complete(checkpoint: Path, step: int, world_size: int) -> None:
    """Write the marker atomically (temporary file, then rename)."""
    record = {
        "step": step,
        "worldSize": world_size,
        "completedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = checkpoint / f".{COMPLETE_MARKER}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, checkpoint / COMPLETE_MARKER)
    descriptor = os.open(checkpoint, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def checkpoints_to_delete(
    all_checkpoints: list[Path], complete: set[Path], limit: int | None, keep: set[Path]
) -> list[Path]:
    """save_total_limit applied to complete checkpoints: the newest `limit` stay, and so do `keep`
    (the best one) and, always, the newest complete one. Incomplete folders are never deleted: one
    may still be being written, or be a checkpoint from elsewhere that a user resumes explicitly."""
    if limit is None or limit <= 0:
        return []
    done = [c for c in all_checkpoints if c in complete]
    protected = {*done[-limit:], *keep}
    if done:
        protected.add(done[-1])
    return [c for c in done if c not in protected]


def rotate_checkpoints(
    output_dir: str | Path, limit: int | None, keep: set[Path] | None = None
) -> list[Path]:
    """Delete what `checkpoints_to_delete` says; returns the deleted folders."""
    found = checkpoints(output_dir)
    complete = {c for c in found if is_complete(c)}
    doomed = checkpoints_to_delete(found, complete, limit, {Path(k) for k in keep or set()})
    for checkpoint in doomed:
        log.info("deleting checkpoint %s (save_total_limit: %s)", checkpoint, limit)
        shutil.rmtree(checkpoint, ignore_errors=True)
    return doomed
