"""A Dataset read from s3:// on a real S3-compatible server: by the data layer (cloud_file_name),
and by `kubefactory run` preparing a Dataset manifest whose Secret holds the credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubefactory.runtime.data.dataset_info import DatasetAttr
from kubefactory.runtime.data.errors import DataError
from kubefactory.runtime.data.sources import open_source, read_cloud_json
from kubefactory.runtime.storage.s3 import S3Client, S3Settings
from kubefactory.runtime.storage.sigv4 import Credentials

ROWS = [{"instruction": "Who are you?", "input": "", "output": "I am KubeFactory-Tiny."}]


@pytest.fixture(scope="module")
def data_bucket(server: Any) -> str:
    client = S3Client(
        S3Settings(server.endpoint, server.region, Credentials(server.access_key, server.secret_key))
    )
    with client.request("PUT", "datasets"):
        pass
    client.put("datasets", "identity/identity.json", json.dumps(ROWS).encode())
    client.put("datasets", "identity/more.jsonl", b"".join(json.dumps(r).encode() + b"\n" for r in ROWS))
    client.put("datasets", "identity/README.md", b"not data")
    return "datasets"


@pytest.fixture
def aws_env(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KUBEFACTORY_FETCH_CACHE", str(tmp_path / "cache"))


def test_cloud_file_name_reads_a_file_or_a_folder(data_bucket: str, aws_env: None) -> None:
    assert read_cloud_json(f"s3://{data_bucket}/identity/identity.json", "identity") == ROWS
    assert read_cloud_json(f"s3://{data_bucket}/identity", "identity") == ROWS + ROWS  # .json and .jsonl
    source = open_source(
        DatasetAttr(name="identity", cloud_file_name=f"s3://{data_bucket}/identity"), "unused"
    )
    assert list(source.rows) == ROWS + ROWS and not source.local


def test_a_missing_key_or_wrong_credentials_name_the_dataset(
    data_bucket: str, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DataError, match="dataset 'identity'.*no objects under it"):
        read_cloud_json(f"s3://{data_bucket}/absent.json", "identity")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(DataError, match="dataset 'identity'.*refused the credentials"):
        read_cloud_json(f"s3://{data_bucket}/identity/identity.json", "identity")


def test_kubefactory_run_prepares_a_dataset_from_a_bucket(
    server: Any, data_bucket: str, tmp_path: Path
) -> None:
    manifests = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "data-creds"},
            "stringData": server.environment(),
        },
        {
            "apiVersion": "kubefactory.io/v1alpha1",
            "kind": "Dataset",
            "metadata": {"name": "identity"},
            "spec": {
                "source": {
                    "uri": f"s3://{data_bucket}/identity/identity.json",
                    "secretRef": {"name": "data-creds"},
                },
                "formatting": "alpaca",
            },
        },
    ]
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump_all(manifests))
    command = [sys.executable, "-m", "kubefactory.runtime.cli", "run", "-f", str(tmp_path / "dataset.yaml")]
    command += ["--workdir", str(tmp_path / "run")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # only the Secret's
    env["KUBEFACTORY_FETCH_CACHE"] = str(tmp_path / "cache")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (prepared,) = (tmp_path / "run" / "default" / "claims" / "identity-data").glob("*/data.jsonl")
    assert [json.loads(line)["output"] for line in prepared.read_text().splitlines()] == [
        "I am KubeFactory-Tiny."
    ]
    assert '"kept":1' in done.stdout
