"""A result to a bucket: every file of the output folder, then the marker object, written last.

The marker (``.kubefactory-complete.json`` under the prefix) lists each file with its size and
sha256: a reader that finds it knows the upload finished and which files belong to it, and one
that does not knows it did not (``fetch(..., require_marker=True)``). Checkpoints stay behind
unless asked for; only complete ones (with their trainer state) are uploaded then.
"""

from __future__ import annotations

import json
import time
import urllib.error
from pathlib import Path

from .cache import Fetched, files_under, tree_digest
from .errors import StorageError
from .s3 import RESULT_MARKER, S3Client, S3Settings, describe, sha256_of
from .uris import S3Uri, parse_uri

SKIPPED_NAMES = ("progress.json",)  # the operator's progress record is no part of the result


def result_files(folder: Path, checkpoints: bool) -> list[Path]:
    files = []
    for path in files_under(folder):
        parts = path.relative_to(folder).parts
        complete = (folder / parts[0] / "trainer_state.json").is_file()
        if parts[0].startswith("checkpoint-") and not (checkpoints and complete):
            continue  # unless asked, and only complete ones
        if path.name in SKIPPED_NAMES or path.name.endswith((".incomplete", ".etag")):
            continue
        files.append(path)
    return files


def upload(
    folder: str | Path, uri: str, settings: S3Settings | None = None, checkpoints: bool = False
) -> Fetched:
    started = time.monotonic()
    parsed = parse_uri(uri)
    if not isinstance(parsed, S3Uri):
        raise StorageError("InvalidURI", f"{uri}: results are uploaded to s3://bucket/prefix")
    root = Path(folder)
    files = result_files(root, checkpoints)
    if not files:
        raise StorageError("NotFound", f"{root}: nothing to upload")
    client = S3Client(settings or S3Settings.from_environment())
    prefix = parsed.prefix.rstrip("/") + "/" if parsed.prefix else ""
    listed: list[tuple[str, int, str]] = []  # name, size, sha256
    try:
        for path in files:
            name, sha = str(path.relative_to(root)), sha256_of(path)
            client.put_file(parsed.bucket, prefix + name, path, sha)
            listed.append((name, path.stat().st_size, sha))
        digest = tree_digest([(name, sha) for name, _, sha in listed])
        total = sum(size for _, size, _ in listed)
        record = {
            "files": [{"name": name, "size": size, "sha256": sha} for name, size, sha in listed],
            "digest": digest,
            "bytes": total,
        }
        client.put(parsed.bucket, prefix + RESULT_MARKER, json.dumps(record, indent=1).encode())
    except (urllib.error.URLError, OSError) as err:
        raise describe(err, parsed, client.settings.endpoint) from None
    return Fetched(
        uri=str(parsed),
        path=str(root),
        digest=digest,
        files=len(listed),
        bytes=total,
        downloaded=False,
        seconds=round(time.monotonic() - started, 3),
        transferred=total,
    )
