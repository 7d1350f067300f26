"""``s3://bucket/prefix`` from any S3-compatible store, spoken with the standard library.

The endpoint is ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (default: AWS in the region), the
region ``AWS_REGION`` or ``AWS_DEFAULT_REGION`` (default us-east-1), the credentials
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``), as a Secret gives them.
A prefix names one object, or a folder of them. Each object is downloaded to ``NAME.incomplete``
next to a note of its ETag; a transfer cut off continues with a Range request, in this attempt or
the next, and is checked against the listed size (and MD5, for single-part ETags) before it is
renamed into place.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlsplit

from .cache import ContentCache, Fetched, check_space, tree_digest
from .errors import StorageError
from .sigv4 import Credentials, canonical_query, sign
from .uris import S3Uri

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
CHUNK = 1 << 20
RETRIES = 5
RESULT_MARKER = ".kubefactory-complete.json"  # written last by an upload: the list of complete files
UNAUTHORIZED_CODES = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
)


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    region: str
    credentials: Credentials | None

    @classmethod
    def from_environment(cls) -> S3Settings:
        env = os.environ
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = (
            env.get("AWS_ENDPOINT_URL_S3")
            or env.get("AWS_ENDPOINT_URL")
            or f"https://s3.{region}.amazonaws.com"
        )
        key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        credentials = Credentials(key, secret, env.get("AWS_SESSION_TOKEN")) if key and secret else None
        return cls(endpoint.rstrip("/"), region, credentials)


@dataclass(frozen=True)
class S3Object:
    key: str
    etag: str
    size: int


class S3Client:
    """The few S3 calls KubeFactory needs: list, get (ranged), put."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        parts = urlsplit(settings.endpoint)
        self.host = parts.netloc
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self.base_path = parts.path.rstrip("/")

    def request(
        self,
        method: str,
        bucket: str,
        key: str = "",
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | BinaryIO | None = None,
        payload_hash: str | None = None,  # a streamed body's sha256, computed by the caller
    ) -> http.client.HTTPResponse:
        params = params or {}
        path = f"{self.base_path}/{quote(bucket)}" + (f"/{quote(key, safe='/-_.~')}" if key else "")
        all_headers = dict(headers or {})
        if self.settings.credentials is not None:
            if payload_hash is not None:
                payload = payload_hash
            elif isinstance(body, bytes):
                payload = hashlib.sha256(body).hexdigest()
            else:
                payload = "UNSIGNED-PAYLOAD"
            all_headers.update(
                sign(method, self.host, path, params, self.settings.credentials, self.settings.region,
                     datetime.now(timezone.utc), payload)
            )  # fmt: skip
        query = canonical_query(params)
        url = f"{self.base.rstrip('/')}{path[len(self.base_path) :]}" + (f"?{query}" if query else "")
        request = urllib.request.Request(url, data=body, method=method, headers=all_headers)
        response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=60)
        return response

    def list(self, bucket: str, prefix: str) -> list[S3Object]:
        objects: list[S3Object] = []
        token: str | None = None
        while True:
            params = {"list-type": "2", "prefix": prefix}
            if token:
                params["continuation-token"] = token
            with self.request("GET", bucket, params=params) as response:
                root = ET.fromstring(response.read())
            for item in root.iter(f"{S3_NS}Contents"):
                objects.append(
                    S3Object(
                        item.findtext(f"{S3_NS}Key") or "",
                        (item.findtext(f"{S3_NS}ETag") or "").strip('"'),
                        int(item.findtext(f"{S3_NS}Size") or 0),
                    )
                )
            token = root.findtext(f"{S3_NS}NextContinuationToken")
            if root.findtext(f"{S3_NS}IsTruncated") != "true" or not token:
                return objects

    def put(self, bucket: str, key: str, body: bytes) -> None:
        with self.request(
            "PUT", bucket, key, body=body, headers={"Content-Type": "application/octet-stream"}
        ):
            pass

    def put_file(self, bucket: str, key: str, path: Path, sha256: str) -> None:
        """One file, streamed from disk (a single PUT: up to 5 GiB per object)."""
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(path.stat().st_size)}
        with (
            path.open("rb") as body,
            self.request("PUT", bucket, key, headers=headers, body=body, payload_hash=sha256),
        ):
            pass

    def get(self, bucket: str, key: str) -> bytes:
        with self.request("GET", bucket, key) as response:
            data: bytes = response.read()
            return data


def describe(err: Exception, uri: S3Uri, endpoint: str) -> StorageError:
    if isinstance(err, urllib.error.HTTPError):
        try:
            code = ET.fromstring(err.read()).findtext("Code") or ""
        except ET.ParseError:
            code = ""
        if code in UNAUTHORIZED_CODES or err.code in (401, 403):
            return StorageError(
                "Unauthorized",
                f"{uri}: {endpoint} refused the credentials ({code or err.code}); check AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY in the Secret",
            )
        if err.code == 404:
            return StorageError("NotFound", f"{uri}: {code or 'not found'} at {endpoint}")
        return StorageError("Unreachable", f"{uri}: {endpoint} answered {err.code} {code}")
    return StorageError("Unreachable", f"{uri}: cannot reach {endpoint}: {err}")


def objects_of(client: S3Client, uri: S3Uri) -> tuple[list[S3Object], str]:
    """The objects the URI names, and the prefix their relative names start after."""
    try:
        found = client.list(uri.bucket, uri.prefix)
        exact = [o for o in found if o.key == uri.prefix]
        if exact:
            return exact, uri.prefix.rsplit("/", 1)[0] + "/" if "/" in uri.prefix else ""
        folder = uri.prefix if not uri.prefix or uri.prefix.endswith("/") else uri.prefix + "/"
        inside = [o for o in found if o.key.startswith(folder) and not o.key.endswith("/")]
    except (urllib.error.URLError, OSError) as err:
        raise describe(err, uri, client.settings.endpoint) from None
    if not inside:
        raise StorageError("NotFound", f"{uri}: no objects under it at {client.settings.endpoint}")
    return inside, folder


def download(client: S3Client, bucket: str, item: S3Object, target: Path) -> int:
    """One object to ``target``, resuming a previous ``.incomplete``; the bytes transferred."""
    target.parent.mkdir(parents=True, exist_ok=True)
    incomplete = target.with_name(target.name + ".incomplete")
    note = target.with_name(target.name + ".etag")
    if not (note.is_file() and note.read_text() == item.etag):
        incomplete.unlink(missing_ok=True)  # a different object was being downloaded
        note.write_text(item.etag)
    incomplete.touch()  # an empty object is complete as soon as it exists
    transferred = 0
    for attempt in range(RETRIES + 1):
        have = incomplete.stat().st_size if incomplete.exists() else 0
        if have >= item.size:
            break
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with client.request("GET", bucket, item.key, headers=headers) as response:
                mode = "ab" if response.status == 206 else "wb"  # 200: the store ignored the Range
                with incomplete.open(mode) as out:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        transferred += len(chunk)
        except (http.client.IncompleteRead, ConnectionError, TimeoutError) as err:
            if attempt == RETRIES:
                raise StorageError(
                    "Unreachable", f"s3://{bucket}/{item.key}: download cut off: {err}"
                ) from None
            time.sleep(min(2**attempt, 10) * 0.1)
    size = incomplete.stat().st_size
    if size != item.size or not _md5_matches(incomplete, item.etag):
        incomplete.unlink()
        raise StorageError(
            "Unreachable",
            f"s3://{bucket}/{item.key}: downloaded {size} of {item.size} bytes, or a wrong checksum; retry",
        )
    os.replace(incomplete, target)
    note.unlink()
    return transferred


def _md5_matches(path: Path, etag: str) -> bool:
    if "-" in etag or len(etag) != 32:
        return True  # a multipart ETag is no MD5 of the content
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest() == etag


def complete_upload(
    client: S3Client, uri: S3Uri, objects: list[S3Object], folder: str
) -> dict[str, str] | None:
    """The files a finished upload wrote (name → sha256), from its marker; None without a marker."""
    if not any(o.key == folder + RESULT_MARKER for o in objects):
        return None
    try:
        record = json.loads(client.get(uri.bucket, folder + RESULT_MARKER))
        return {str(f["name"]): str(f["sha256"]) for f in record["files"]}
    except (urllib.error.URLError, OSError) as err:
        raise describe(err, uri, client.settings.endpoint) from None
    except (ValueError, KeyError, TypeError):
        raise StorageError(
            "NotFound", f"{uri}: its {RESULT_MARKER} is not a KubeFactory upload record"
        ) from None


def select(
    uri: S3Uri, objects: list[S3Object], folder: str, uploaded: dict[str, str] | None, require_marker: bool
) -> list[S3Object]:
    """What to download: everything, or exactly the files a finished upload lists."""
    if uploaded is None:
        if require_marker:
            raise StorageError(
                "NotFound",
                f"{uri}: no finished upload there ({RESULT_MARKER} is written last and is missing)",
            )
        return objects
    named = {o.key[len(folder) :]: o for o in objects}
    missing = sorted(set(uploaded) - set(named))
    if missing:
        raise StorageError(
            "NotFound", f"{uri}: its upload record names {', '.join(missing)}, which are not there"
        )
    return [named[name] for name in sorted(uploaded)]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fetch_s3(uri: S3Uri, cache: ContentCache, settings: S3Settings, require_marker: bool = False) -> Fetched:
    """The objects under the URI (or, where an upload finished there, the files it lists)."""
    started = time.monotonic()
    client = S3Client(settings)
    found, folder = objects_of(client, uri)
    uploaded = complete_upload(client, uri, found, folder)
    objects = select(uri, found, folder, uploaded, require_marker)
    entries = [
        (o.key[len(folder) :], (uploaded or {}).get(o.key[len(folder) :]) or f"{o.etag}:{o.size}")
        for o in objects
    ]
    digest = tree_digest(entries)
    key = f"s3/{digest.removeprefix('sha256:')}"
    with cache.locked(key):
        if (cached := cache.lookup(key)) is not None:
            return cached
        partial = cache.partial(key)
        check_space(partial, sum(o.size for o in objects))
        transferred = 0
        for item in objects:
            name = item.key[len(folder) :]
            target = partial / name
            if not (target.is_file() and target.stat().st_size == item.size):
                try:
                    transferred += download(client, uri.bucket, item, target)
                except (urllib.error.URLError, OSError) as err:
                    raise describe(err, uri, settings.endpoint) from None
            if uploaded is not None and sha256_of(target) != uploaded[name]:
                target.unlink()
                raise StorageError(
                    "Unreachable", f"{uri}: {name} does not match its upload record's sha256; retry"
                )
        fetched = Fetched(
            uri=str(uri),
            path=str(partial),
            digest=digest,
            files=len(objects),
            bytes=sum(o.size for o in objects),
            downloaded=True,
            seconds=round(time.monotonic() - started, 3),
            transferred=transferred,
        )
        return cache.commit(key, fetched)
