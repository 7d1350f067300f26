"""The storage URIs, parsed (pure): ``hf://owner/name[@revision]``, ``s3://bucket/prefix``, ``pvc://claim/path``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import StorageError

HF_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class HubUri:
    repo: str  # owner/name
    revision: str | None = None  # a branch, tag or commit; None: the default branch

    def __str__(self) -> str:
        return f"hf://{self.repo}" + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    prefix: str  # a key, or a folder of keys; "" for the whole bucket

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


@dataclass(frozen=True)
class ClaimUri:
    claim: str
    path: str

    def __str__(self) -> str:
        return f"pvc://{self.claim}/{self.path}".rstrip("/")


StorageUri = HubUri | S3Uri | ClaimUri


def parse_uri(uri: str) -> StorageUri:
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise StorageError(
            "InvalidURI", f"{uri}: not a URI; write hf://owner/name, s3://bucket/prefix or pvc://claim/path"
        )
    if scheme == "hf":
        repo, at, revision = rest.partition("@")
        repo = repo.strip("/")
        if not HF_REPO.match(repo) or (at and not revision):
            raise StorageError("InvalidURI", f"{uri}: write hf://owner/name or hf://owner/name@revision")
        return HubUri(repo, revision or None)
    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        if not BUCKET.match(bucket):
            raise StorageError(
                "InvalidURI", f"{uri}: {bucket!r} is not a bucket name; write s3://bucket/prefix"
            )
        return S3Uri(bucket, prefix)
    if scheme == "pvc":
        claim, _, path = rest.partition("/")
        if not claim or ".." in path.split("/"):
            raise StorageError("InvalidURI", f"{uri}: write pvc://claim/path (no '..')")
        return ClaimUri(claim, path.strip("/"))
    raise StorageError("InvalidURI", f"{uri}: scheme {scheme}:// is not one of hf://, s3://, pvc://")
