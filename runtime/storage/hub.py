"""``hf://owner/name[@revision]`` through ``huggingface_hub``: the revision resolved to its commit,
then only the weights and tokenizer files (or a dataset's data files) downloaded into the cache.

The endpoint is ``HF_ENDPOINT`` (a mirror, or a hub of one's own), the token ``HF_TOKEN`` (from
the Secret the resource names). Both are read when a fetch starts, not when the module is imported.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Literal

from .cache import ContentCache, Fetched, check_space, files_under, tree_digest
from .errors import StorageError
from .uris import HubUri

RepoType = Literal["model", "dataset"]
# what a model needs to load and chat: configs, tokenizer, chat template, weights
MODEL_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.tiktoken", "*.txt", "*.jinja", "tokenizer*"]
MODEL_BIN_PATTERNS = ["*.bin"]  # only when the repo has no safetensors
DATASET_PATTERNS = ["*.json", "*.jsonl", "*.parquet", "*.csv", "*.arrow", "*.txt", "*.md", "*.yaml"]


@dataclass(frozen=True)
class HubSettings:
    endpoint: str | None = None
    token: str | None = None

    @classmethod
    def from_environment(cls) -> HubSettings:
        return cls(os.environ.get("HF_ENDPOINT") or None, os.environ.get("HF_TOKEN") or None)


def allow_patterns(repo_type: RepoType, files: list[str]) -> list[str]:
    """Weights and tokenizer files; ``*.bin`` weights only where there are no safetensors."""
    if repo_type == "dataset":
        return list(DATASET_PATTERNS)
    if any(name.endswith(".safetensors") for name in files):
        return list(MODEL_PATTERNS)
    return [*MODEL_PATTERNS, *MODEL_BIN_PATTERNS]


def _hub_error(uri: HubUri, err: Exception, settings: HubSettings) -> StorageError:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = settings.endpoint or "the hub"
    if isinstance(err, GatedRepoError):
        hint = "the token cannot read it" if settings.token else "no token was given (HF_TOKEN in the Secret)"
        return StorageError(
            "Gated", f"{uri}: a gated repository and {hint}; accept its terms and give a token"
        )
    if isinstance(err, RevisionNotFoundError):
        return StorageError("NotFound", f"{uri}: revision {uri.revision} not found at {where}")
    if isinstance(err, RepositoryNotFoundError):
        hint = "" if settings.token else " (a private one needs a token: HF_TOKEN in the Secret)"
        return StorageError("NotFound", f"{uri}: repository not found at {where}{hint}")
    if (
        isinstance(err, HfHubHTTPError)
        and err.response is not None
        and err.response.status_code in (401, 403)
    ):
        return StorageError("Unauthorized", f"{uri}: {where} refused the token ({err.response.status_code})")
    return StorageError("Unreachable", f"{uri}: cannot download from {where}: {type(err).__name__}: {err}")


def fetch_hub(
    uri: HubUri, cache: ContentCache, settings: HubSettings, repo_type: RepoType = "model"
) -> Fetched:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.utils import filter_repo_objects

    started = time.monotonic()
    api = HfApi(endpoint=settings.endpoint, token=settings.token)
    try:
        info: Any = api.repo_info(uri.repo, revision=uri.revision, repo_type=repo_type, files_metadata=True)
    except Exception as err:
        raise _hub_error(uri, err, settings) from None
    commit = str(info.sha)
    siblings = list(info.siblings or [])
    patterns = allow_patterns(repo_type, [s.rfilename for s in siblings])
    key = f"hf/{repo_type}s/{uri.repo}/{commit}"
    with cache.locked(key):
        if (found := cache.lookup(key)) is not None:
            return found
        partial = cache.partial(key)
        wanted = set(filter_repo_objects([s.rfilename for s in siblings], allow_patterns=patterns))
        check_space(partial, sum(int(s.size or 0) for s in siblings if s.rfilename in wanted))
        before = {p: p.stat().st_size for p in files_under(partial)}  # complete in an earlier attempt
        try:
            snapshot_download(
                uri.repo,
                repo_type=repo_type,
                revision=commit,
                local_dir=partial,
                allow_patterns=patterns,
                endpoint=settings.endpoint,
                token=settings.token,
                max_workers=4,
            )
        except Exception as err:
            raise _hub_error(uri, err, settings) from None
        files = files_under(partial)
        identities = {s.rfilename: (s.lfs.sha256 if s.lfs else s.blob_id) for s in siblings}
        names = [str(p.relative_to(partial)) for p in files]
        entries = [(name, str(identities.get(name) or p.stat().st_size)) for name, p in zip(names, files)]
        fetched = Fetched(
            uri=str(uri),
            path=str(partial),
            digest=tree_digest(entries),
            files=len(files),
            bytes=sum(p.stat().st_size for p in files),
            downloaded=True,
            seconds=round(time.monotonic() - started, 3),
            revision=commit,
            transferred=sum(p.stat().st_size for p in files if p not in before),
        )
        return cache.commit(key, fetched)
