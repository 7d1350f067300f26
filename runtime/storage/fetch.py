"""One entry point for every scheme: a URI in, the cached folder (and what it holds) out."""

from __future__ import annotations

import time
from pathlib import Path

from .cache import ContentCache, Fetched, files_under, tree_digest
from .errors import StorageError
from .hub import HubSettings, RepoType, fetch_hub
from .s3 import S3Settings, fetch_s3
from .uris import ClaimUri, HubUri, S3Uri, parse_uri

CLAIMS_ROOT = "/kubefactory/claims"  # where a pod mounts the claims it reads, one folder each


def fetch_claim(uri: ClaimUri, claims_root: str | Path) -> Fetched:
    """A claim is already mounted: nothing to download, only to check and describe."""
    started = time.monotonic()
    path = Path(claims_root) / uri.claim / uri.path
    if not path.exists():
        raise StorageError("NotFound", f"{uri}: {path} does not exist (is claim {uri.claim} mounted there?)")
    files = [path] if path.is_file() else files_under(path)
    base = path.parent if path.is_file() else path
    entries = [(str(p.relative_to(base)), str(p.stat().st_size)) for p in files]
    return Fetched(
        uri=str(uri),
        path=str(path),
        digest=tree_digest(entries),
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
        downloaded=False,
        seconds=round(time.monotonic() - started, 3),
    )


def fetch(
    uri: str,
    cache_dir: str | Path,
    *,
    repo_type: RepoType = "model",
    claims_root: str | Path = CLAIMS_ROOT,
    hub: HubSettings | None = None,
    s3: S3Settings | None = None,
    require_marker: bool = False,
) -> Fetched:
    """Bring ``uri`` into ``cache_dir`` (once per content); settings default to the environment's.

    ``require_marker``: the URI is a FineTuneJob's result, usable only once its upload finished.
    """
    parsed = parse_uri(uri)
    cache = ContentCache(cache_dir)
    if isinstance(parsed, HubUri):
        return fetch_hub(parsed, cache, hub or HubSettings.from_environment(), repo_type)
    if isinstance(parsed, S3Uri):
        return fetch_s3(parsed, cache, s3 or S3Settings.from_environment(), require_marker)
    return fetch_claim(parsed, claims_root)
