"""`kubefactory fetch URI --cache DIR`: what an init container runs before a pod reads a model or data.

Prints what it fetched as JSON (path, digest, files, bytes, seconds) and writes the same to the
termination log, where the operator reads it; a failure writes ``{"reason": ..., "message": ...}``
there instead (NotFound, Unauthorized, Gated, OutOfSpace, Unreachable) and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .errors import StorageError
    from .fetch import fetch

    try:
        fetched = fetch(args.uri, args.cache, repo_type=args.kind, claims_root=args.claims_root)
    except StorageError as err:
        _write(args.termination_log, json.dumps({"reason": err.reason, "message": str(err)}))
        print(f"kubefactory fetch: {err.reason}: {err}", file=sys.stderr)
        return 1
    _write(args.termination_log, fetched.to_json())
    print(fetched.to_json())
    return 0


def _write(path: str | None, text: str) -> None:
    if path:
        Path(path).write_text(text, encoding="utf-8")
