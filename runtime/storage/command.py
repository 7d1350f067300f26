"""`kubefactory fetch URI --cache DIR`: what an init container runs before a pod reads a model or data;
`kubefactory upload FOLDER s3://bucket/prefix`: a training result to a bucket, after it succeeded.

Prints what it fetched as JSON (path, digest, files, bytes, seconds) and writes the same to the
termination log, where the operator reads it; a failure writes ``{"reason": ..., "message": ...}``
there instead (NotFound, Unauthorized, Gated, OutOfSpace, Unreachable) and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

UPLOAD_SUMMARY = "upload a training result to s3://bucket/prefix, its marker object written last"
SUMMARY = "download an hf://, s3:// or pvc:// model or dataset into a content-keyed cache folder"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("fetch", help=SUMMARY, description=SUMMARY)
    parser.add_argument("uri", help="hf://owner/name[@revision], s3://bucket/prefix or pvc://claim/path")
    parser.add_argument("--cache", required=True, help="the cache folder (a shared claim on a cluster)")
    parser.add_argument(
        "--kind", choices=("model", "dataset"), default="model", help="what the hub repo holds"
    )
    parser.add_argument(
        "--claims-root", default="/kubefactory/claims", help="where pvc:// claims are mounted"
    )
    parser.add_argument("--termination-log", help="also write the result (or the failure) here")
    parser.add_argument(
        "--link", help="also make this path a symbolic link to the fetched folder (a stable path for the pod)"
    )
    parser.add_argument(
        "--require-marker", action="store_true", help="s3://: only a finished upload (a FineTuneJob's result)"
    )
    parser.set_defaults(handler=run)
    upload = subparsers.add_parser("upload", help=UPLOAD_SUMMARY, description=UPLOAD_SUMMARY)
    upload.add_argument("folder", help="the output folder of a training run")
    upload.add_argument("uri", help="s3://bucket/prefix")
    upload.add_argument("--checkpoints", action="store_true", help="also upload the complete checkpoints")
    upload.add_argument("--termination-log", help="also write the result (or the failure) here")
    upload.set_defaults(handler=run_upload)


def run(args: argparse.Namespace) -> int:
    from .errors import StorageError
    from .fetch import fetch

    try:
        fetched = fetch(
            args.uri,
            args.cache,
            repo_type=args.kind,
            claims_root=args.claims_root,
            require_marker=args.require_marker,
        )
    except StorageError as err:
        _write(args.termination_log, json.dumps({"reason": err.reason, "message": str(err)}))
        print(f"kubefactory fetch: {err.reason}: {err}", file=sys.stderr)
        return 1
    if args.link:
        link(Path(args.link), Path(fetched.path))
    _write(args.termination_log, fetched.to_json())
    print(fetched.to_json())
    return 0


def link(path: Path, target: Path) -> None:
    """``path`` → ``target``, replaced atomically if it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.link")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target, target_is_directory=target.is_dir())
    os.replace(temporary, path)


def run_upload(args: argparse.Namespace) -> int:
    from .errors import StorageError
    from .upload import upload

    try:
        uploaded = upload(args.folder, args.uri, checkpoints=args.checkpoints)
    except StorageError as err:
        _write(args.termination_log, json.dumps({"reason": err.reason, "message": str(err)}))
        print(f"kubefactory upload: {err.reason}: {err}", file=sys.stderr)
        return 1
    _write(args.termination_log, uploaded.to_json())
    print(uploaded.to_json())
    return 0


def _write(path: str | None, text: str) -> None:
    if path:
        Path(path).write_text(text, encoding="utf-8")
