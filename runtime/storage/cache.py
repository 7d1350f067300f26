"""The content-keyed cache: one folder per content, written aside and renamed into place when complete.

``<root>/<key>/`` exists only once complete, with its marker ``.kubefactory-fetch.json`` (written
before the rename); ``<root>/<key>.partial/`` is where a download happens and is kept across an
interruption, so the next attempt resumes there. Keys name the content (a hub commit, a digest of
a bucket listing), so two URIs that name the same content share one folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import StorageError

MARKER = ".kubefactory-fetch.json"
PARTIAL = ".partial"


@dataclass(frozen=True)
class Fetched:
    """What a fetch answers: where the content is and what it is (the status a cluster shows)."""

    uri: str
    path: str
    digest: str  # sha256 over the files' names and contents' identities
    files: int
    bytes: int
    downloaded: bool  # False: it was in the cache already
    seconds: float = 0.0
    revision: str | None = None  # a hub commit, when the URI named a branch or tag
    transferred: int = 0  # bytes downloaded by this fetch (less than bytes when it resumed)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def tree_digest(entries: list[tuple[str, str]]) -> str:
    """sha256 of sorted (relative path, content identity) pairs."""
    hasher = hashlib.sha256()
    for name, identity in sorted(entries):
        hasher.update(f"{name}\0{identity}\n".encode())
    return "sha256:" + hasher.hexdigest()


def files_under(folder: Path) -> list[Path]:
    """The content's files: everything but the hub client's bookkeeping and our marker."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.name != MARKER and ".cache" not in p.relative_to(folder).parts
    )


class ContentCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def folder(self, key: str) -> Path:
        return self.root / key

    def lookup(self, key: str) -> Fetched | None:
        marker = self.folder(key) / MARKER
        if not marker.is_file():
            return None
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        return Fetched(**{**recorded, "path": str(self.folder(key)), "downloaded": False})

    def partial(self, key: str) -> Path:
        folder = self.root / f"{key}{PARTIAL}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """One download per key at a time across processes (pods sharing a claim)."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = self.root / f"{key.replace('/', '_')}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def commit(self, key: str, fetched: Fetched) -> Fetched:
        """Write the marker into the complete partial folder, then rename it into place."""
        partial = self.root / f"{key}{PARTIAL}"
        shutil.rmtree(partial / ".cache", ignore_errors=True)  # the hub client's resume bookkeeping
        transient = ("path", "downloaded", "seconds", "transferred")
        record = {k: v for k, v in asdict(fetched).items() if k not in transient}
        (partial / MARKER).write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
        final = self.folder(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, final)
        return Fetched(**{**asdict(fetched), "path": str(final)})


def check_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise StorageError(
            "OutOfSpace", f"{folder}: {needed} bytes to download, {free} free; give the cache a larger claim"
        )
