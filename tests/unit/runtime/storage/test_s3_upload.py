"""A training result to a bucket, and read back from it, on a real S3-compatible server.

The upload writes every file, then the marker object listing them; a reader of a FineTuneJob's
result (require_marker) takes exactly the files of a finished upload, and refuses an unfinished one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.storage.errors import StorageError
from kubefactory.runtime.storage.fetch import fetch
from kubefactory.runtime.storage.s3 import RESULT_MARKER, S3Client, S3Settings
from kubefactory.runtime.storage.sigv4 import Credentials
from kubefactory.runtime.storage.upload import upload


def _settings(server: Any, secret: str | None = None) -> S3Settings:
    return S3Settings(
        server.endpoint, server.region, Credentials(server.access_key, secret or server.secret_key)
    )


def _bucket(server: Any, name: str) -> S3Client:
    client = S3Client(_settings(server))
    with client.request("PUT", name):
        pass
    return client


def _output(folder: Path) -> Path:
    """What a LoRA run leaves in output_dir: the adapter, a complete and a cut-off checkpoint."""
    (folder / "checkpoint-5").mkdir(parents=True)
    (folder / "checkpoint-10").mkdir()
    files = {
        "adapter_model.safetensors": b"\1" * 50_000,
        "adapter_config.json": b'{"r": 8}',
        "tokenizer.json": b"{}",
        "trainer_log.jsonl": b'{"loss": 1.0}\n',
        "progress.json": b'{"step": 10}',
        "checkpoint-5/adapter_model.safetensors": b"\2" * 1000,
        "checkpoint-5/trainer_state.json": b"{}",
        "checkpoint-10/adapter_model.safetensors": b"\3" * 10,  # no trainer_state.json: cut off
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def _keys(client: S3Client, bucket: str, prefix: str) -> list[str]:
    return sorted(o.key for o in client.list(bucket, prefix))


def test_the_result_is_uploaded_with_its_marker_and_served_from_there(server: Any, tmp_path: Path) -> None:
    client = _bucket(server, "results")
    output = _output(tmp_path / "output")
    uploaded = upload(output, "s3://results/team-a/identity-lora", _settings(server))
    names = ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "trainer_log.jsonl"]
    assert _keys(client, "results", "team-a/") == sorted(
        [f"team-a/identity-lora/{n}" for n in [*names, RESULT_MARKER]]
    )
    record = json.loads(client.get("results", f"team-a/identity-lora/{RESULT_MARKER}"))
    assert sorted(f["name"] for f in record["files"]) == names and record["digest"] == uploaded.digest

    served = fetch(
        "s3://results/team-a/identity-lora", tmp_path / "cache", s3=_settings(server), require_marker=True
    )
    assert sorted(p.name for p in Path(served.path).iterdir() if not p.name.startswith(".")) == names
    assert (Path(served.path) / "adapter_model.safetensors").read_bytes() == b"\1" * 50_000
    assert served.digest == uploaded.digest and served.files == 4


def test_complete_checkpoints_go_up_when_asked(server: Any, tmp_path: Path) -> None:
    client = _bucket(server, "with-checkpoints")
    upload(_output(tmp_path / "output"), "s3://with-checkpoints/run", _settings(server), checkpoints=True)
    keys = _keys(client, "with-checkpoints", "run/")
    assert "run/checkpoint-5/trainer_state.json" in keys
    assert not [k for k in keys if "checkpoint-10" in k or k.endswith("progress.json")]


def test_an_unfinished_upload_is_never_served(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _bucket(server, "unfinished")
    real_put_file = S3Client.put_file
    calls: list[str] = []

    def cut_off(self: S3Client, bucket: str, key: str, path: Path, sha256: str) -> None:
        calls.append(key)
        if len(calls) == 3:
            raise ConnectionResetError("the pod was evicted")
        real_put_file(self, bucket, key, path, sha256)

    monkeypatch.setattr(S3Client, "put_file", cut_off)
    with pytest.raises(StorageError, match="evicted") as err:
        upload(_output(tmp_path / "output"), "s3://unfinished/run", _settings(server))
    assert err.value.reason == "Unreachable"
    assert len(_keys(client, "unfinished", "run/")) == 2 and RESULT_MARKER not in str(
        _keys(client, "unfinished", "")
    )
    with pytest.raises(StorageError, match="no finished upload there") as err:
        fetch("s3://unfinished/run", tmp_path / "cache", s3=_settings(server), require_marker=True)
    assert err.value.reason == "NotFound"


def test_only_the_files_of_the_finished_upload_are_read(server: Any, tmp_path: Path) -> None:
    client = _bucket(server, "later")
    upload(_output(tmp_path / "output"), "s3://later/run", _settings(server))
    client.put("later", "run/stray.bin", b"from an upload that has not finished")
    served = fetch("s3://later/run", tmp_path / "cache", s3=_settings(server), require_marker=True)
    assert not (Path(served.path) / "stray.bin").exists() and served.files == 4


def test_the_command_uploads_and_reports_a_failure_with_its_reason(server: Any, tmp_path: Path) -> None:
    _bucket(server, "by-command")
    output = _output(tmp_path / "output")
    env = {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_REGION": server.region,
    }
    log = tmp_path / "termination-log"
    base = [sys.executable, "-m", "kubefactory.runtime.cli", "upload", str(output), "s3://by-command/run"]
    good = subprocess.run(
        [*base, "--termination-log", str(log)],
        env={**env, "AWS_SECRET_ACCESS_KEY": server.secret_key, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stderr
    assert json.loads(log.read_text())["files"] == 4
    bad = subprocess.run(
        [*base, "--termination-log", str(log)],
        env={**env, "AWS_SECRET_ACCESS_KEY": "wrong", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and json.loads(log.read_text())["reason"] == "Unauthorized"
