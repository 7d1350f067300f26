"""The storage URIs, parsed; and pvc:// read where its claim is mounted (nothing to download)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubefactory.runtime.storage.errors import StorageError
from kubefactory.runtime.storage.fetch import fetch
from kubefactory.runtime.storage.uris import ClaimUri, HubUri, S3Uri, parse_uri


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("hf://Qwen/Qwen2.5-0.5B-Instruct", HubUri("Qwen/Qwen2.5-0.5B-Instruct")),
        ("hf://Qwen/Qwen2.5-0.5B-Instruct@v1.0", HubUri("Qwen/Qwen2.5-0.5B-Instruct", "v1.0")),
        ("s3://models/qwen/0.5b", S3Uri("models", "qwen/0.5b")),
        ("s3://models", S3Uri("models", "")),
        ("pvc://models/tiny/", ClaimUri("models", "tiny")),
    ],
)
def test_uris_parse_and_print_back(uri: str, parsed: object) -> None:
    assert parse_uri(uri) == parsed
    assert str(parsed) == uri.rstrip("/")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("Qwen/Qwen2.5", "not a URI"),
        ("hf://justaname", "write hf://owner/name"),
        ("hf://org/name@", "write hf://owner/name"),
        ("s3://Bad_Bucket/x", "is not a bucket name"),
        ("pvc://claim/../etc", "no '..'"),
        ("gs://bucket/x", "scheme gs:// is not one of"),
    ],
)
def test_a_bad_uri_says_how_to_write_it(uri: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as err:
        parse_uri(uri)
    assert err.value.reason == "InvalidURI"


def test_a_claim_is_read_where_it_is_mounted(tmp_path: Path) -> None:
    model = tmp_path / "claims" / "models" / "tiny"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"\0" * 10)
    fetched = fetch("pvc://models/tiny", tmp_path / "cache", claims_root=tmp_path / "claims")
    assert (fetched.path, fetched.files, fetched.bytes, fetched.downloaded) == (str(model), 2, 12, False)
    assert not (tmp_path / "cache").exists()  # nothing copied
    with pytest.raises(StorageError, match="is claim models mounted there") as err:
        fetch("pvc://models/absent", tmp_path / "cache", claims_root=tmp_path / "claims")
    assert err.value.reason == "NotFound"
