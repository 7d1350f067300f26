"""s3:// fetching against a real S3-compatible server (moto's standalone server, authentication on).

The server (the ``server`` fixture, see hack/s3_server.py) is a separate process speaking the S3
wire protocol; the runtime's client signs every request with SigV4 and uses path-style
addressing, as with MinIO or AWS.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.storage.cache import MARKER
from kubefactory.runtime.storage.errors import StorageError
from kubefactory.runtime.storage.fetch import fetch
from kubefactory.runtime.storage.s3 import S3Client, S3Settings
from kubefactory.runtime.storage.sigv4 import Credentials

WEIGHTS = hashlib.sha256(b"seed").digest() * 40_000  # 1.28 MB
MODEL = {
    "models/tiny/config.json": b'{"model_type": "qwen2"}',
    "models/tiny/model.safetensors": WEIGHTS,
    "models/tiny/tokenizer/tokenizer.json": b"{}",
    "data/identity.json": b'[{"instruction": "Who are you?", "output": "KubeFactory-Tiny"}]',
}


def _settings(server: Any, secret: str | None = None) -> S3Settings:
    return S3Settings(
        server.endpoint, server.region, Credentials(server.access_key, secret or server.secret_key)
    )


@pytest.fixture(scope="module")
def bucket(server: Any) -> str:
    client = S3Client(_settings(server))
    with client.request("PUT", "models"):
        pass
    for key, content in MODEL.items():
        client.put("models", key, content)
    return "models"


def test_a_folder_of_objects_is_fetched_with_its_layout(server: Any, bucket: str, tmp_path: Path) -> None:
    fetched = fetch(f"s3://{bucket}/models/tiny", tmp_path, s3=_settings(server))
    folder = Path(fetched.path)
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert (folder / "tokenizer" / "tokenizer.json").read_bytes() == b"{}"
    assert (fetched.files, fetched.bytes) == (
        3,
        sum(len(v) for k, v in MODEL.items() if k.startswith("models/")),
    )
    assert fetched.downloaded and fetched.transferred == fetched.bytes and (folder / MARKER).is_file()
    assert sorted(p.name for p in folder.iterdir()) == [
        MARKER,
        "config.json",
        "model.safetensors",
        "tokenizer",
    ]


def test_one_object_is_fetched_alone(server: Any, bucket: str, tmp_path: Path) -> None:
    fetched = fetch(f"s3://{bucket}/data/identity.json", tmp_path, s3=_settings(server))
    assert (Path(fetched.path) / "identity.json").read_bytes() == MODEL["data/identity.json"]
    assert fetched.files == 1


def test_the_same_content_is_downloaded_once(server: Any, bucket: str, tmp_path: Path) -> None:
    first = fetch(f"s3://{bucket}/models/tiny", tmp_path, s3=_settings(server))
    again = fetch(f"s3://{bucket}/models/tiny/", tmp_path, s3=_settings(server))
    assert not again.downloaded and again.transferred == 0
    assert (again.path, again.digest) == (first.path, first.digest)


def test_new_content_gets_a_new_folder(server: Any, tmp_path: Path) -> None:
    client = S3Client(_settings(server))
    with client.request("PUT", "changing"):
        pass
    client.put("changing", "m/weights.bin", b"one")
    one = fetch("s3://changing/m", tmp_path, s3=_settings(server))
    client.put("changing", "m/weights.bin", b"two")
    two = fetch("s3://changing/m", tmp_path, s3=_settings(server))
    assert one.path != two.path and (Path(two.path) / "weights.bin").read_bytes() == b"two"
    assert (Path(one.path) / "weights.bin").read_bytes() == b"one"  # what a running job reads stays


def test_wrong_credentials_are_unauthorized(server: Any, bucket: str, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="refused the credentials .*AWS_SECRET_ACCESS_KEY") as err:
        fetch(f"s3://{bucket}/models/tiny", tmp_path, s3=_settings(server, secret="wrong"))
    assert err.value.reason == "Unauthorized"
    unknown = S3Settings(server.endpoint, server.region, Credentials("AKIANOBODY0000000000", "x"))
    with pytest.raises(StorageError) as err:
        fetch(f"s3://{bucket}/models/tiny", tmp_path, s3=unknown)
    assert err.value.reason == "Unauthorized"
    assert not list(tmp_path.rglob(MARKER))


@pytest.mark.parametrize(
    ("uri", "message"),
    [("s3://models/models/absent", "no objects under it"), ("s3://no-such-bucket/x", "NoSuchBucket")],
)
def test_a_missing_key_or_bucket_is_not_found(
    server: Any, bucket: str, tmp_path: Path, uri: str, message: str
) -> None:
    with pytest.raises(StorageError, match=message) as err:
        fetch(uri, tmp_path, s3=_settings(server))
    assert err.value.reason == "NotFound"


def _partial_of(server: Any, bucket: str, tmp_path: Path) -> tuple[Path, Path]:
    """Where a fetch of the model downloads to, learnt from a fetch into another cache."""
    done = Path(fetch(f"s3://{bucket}/models/tiny", tmp_path / "learn", s3=_settings(server)).path)
    key = done.relative_to(tmp_path / "learn")
    return tmp_path / "cache" / f"{key}.partial", tmp_path / "cache" / key


def test_an_interrupted_download_resumes_with_a_range(server: Any, bucket: str, tmp_path: Path) -> None:
    partial, final = _partial_of(server, bucket, tmp_path)
    partial.mkdir(parents=True)
    half = len(WEIGHTS) // 2
    (partial / "model.safetensors.incomplete").write_bytes(WEIGHTS[:half])  # as a killed pod left it
    (partial / "model.safetensors.etag").write_text(hashlib.md5(WEIGHTS, usedforsecurity=False).hexdigest())
    fetched = fetch(f"s3://{bucket}/models/tiny", tmp_path / "cache", s3=_settings(server))
    assert Path(fetched.path) == final and (final / "model.safetensors").read_bytes() == WEIGHTS
    assert fetched.transferred == fetched.bytes - half  # the first half was not downloaded again
    assert not partial.exists()


def test_a_partial_download_that_does_not_check_out_is_never_used(
    server: Any, bucket: str, tmp_path: Path
) -> None:
    partial, final = _partial_of(server, bucket, tmp_path)
    partial.mkdir(parents=True)
    corrupt = b"\0" * (len(WEIGHTS) // 2)
    (partial / "model.safetensors.incomplete").write_bytes(corrupt)
    (partial / "model.safetensors.etag").write_text(hashlib.md5(WEIGHTS, usedforsecurity=False).hexdigest())
    with pytest.raises(StorageError, match="wrong checksum"):
        fetch(f"s3://{bucket}/models/tiny", tmp_path / "cache", s3=_settings(server))
    assert not final.exists() and not (partial / "model.safetensors.incomplete").exists()
    fetched = fetch(f"s3://{bucket}/models/tiny", tmp_path / "cache", s3=_settings(server))
    assert (Path(fetched.path) / "model.safetensors").read_bytes() == WEIGHTS


def test_an_empty_object_is_fetched(server: Any, tmp_path: Path) -> None:
    client = S3Client(_settings(server))
    with client.request("PUT", "empty-files"):
        pass
    client.put("empty-files", "m/added_tokens.json", b"")
    client.put("empty-files", "m/config.json", b"{}")
    fetched = fetch("s3://empty-files/m", tmp_path, s3=_settings(server))
    assert (Path(fetched.path) / "added_tokens.json").read_bytes() == b"" and fetched.files == 2
