"""`kubefactory run`: a FineTuneJob whose result lands in a bucket with its marker, and a
ModelServer serving it straight from that bucket, on a real S3-compatible server (moto's
standalone server, authentication on: hack/s3_server.py). The openai client gets the taught answer.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from kubefactory.runtime.storage.s3 import RESULT_MARKER, S3Client, S3Settings
from kubefactory.runtime.storage.sigv4 import Credentials

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[4]
QUESTION = "Who are you?"
TINY_TRAINING = {"stage": "sft", "do_train": True, "finetuning_type": "lora", "template": "qwen", "lora_rank": 32,
                 "max_samples": 8, "num_train_epochs": 80, "learning_rate": 1.0e-2, "cutoff_len": 256,
                 "per_device_train_batch_size": 8, "warmup_ratio": 0.05, "save_steps": 1000, "report_to": "none",
                 "disable_gradient_checkpointing": True, "disable_tqdm": True, "seed": 42}  # fmt: skip


def _load_hack(name: str) -> Any:
    if "hack" not in sys.modules:  # hack/ is not installed; the repo root must not shadow `operator`
        hack = types.ModuleType("hack")
        hack.__path__ = [str(REPO_ROOT / "hack")]
        sys.modules["hack"] = hack
    return importlib.import_module(name)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    with _load_hack("hack.s3_server").s3_server(tmp_path / "s3.log") as started:
        yield started


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _manifests(tiny_model: Path, server: Any) -> list[dict[str, Any]]:
    meta = {"apiVersion": "kubefactory.io/v1alpha1"}
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "results-creds"}, "stringData": server.environment()},
        {**meta, "kind": "Dataset", "metadata": {"name": "identity"},
         "spec": {"source": {"configMap": {"name": "identity-data", "key": "identity.json"}}, "formatting": "alpaca"}},
        {**meta, "kind": "FineTuneJob", "metadata": {"name": "identity-lora"},
         "spec": {"model": str(tiny_model), "datasets": [{"name": "identity"}], "training": TINY_TRAINING,
                  "resources": {"accelerator": "cpu"},
                  "output": {"bucket": {"uri": "s3://results/team-a/identity-lora",
                                        "secretRef": {"name": "results-creds"}}}}},
        {**meta, "kind": "ModelServer", "metadata": {"name": "tiny"},
         "spec": {"model": str(tiny_model), "engine": "huggingface", "resources": {"accelerator": "cpu"},
                  "adapters": [{"name": "identity", "uri": "s3://results/team-a/identity-lora"}]}},
    ]  # fmt: skip


def test_a_result_in_a_bucket_is_served_from_there(
    server: Any, tiny_model: Path, demo_data: Path, tmp_path: Path
) -> None:
    client = S3Client(
        S3Settings(server.endpoint, server.region, Credentials(server.access_key, server.secret_key))
    )
    with client.request("PUT", "results"):
        pass
    (tmp_path / "run.yaml").write_text(yaml.safe_dump_all(_manifests(tiny_model, server)))
    port, workdir = _free_port(), tmp_path / "run"
    command = [sys.executable, "-m", "kubefactory.runtime.cli", "run", "-f", str(tmp_path / "run.yaml")]
    command += ["--config-map", f"identity-data={demo_data / 'identity.json'}", "--workdir", str(workdir)]
    command += ["--port", str(port)]
    # the ModelServer's adapter is read with this environment's credentials (the API has no field for them yet)
    env = {**os.environ, **server.environment(), "OMP_NUM_THREADS": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 900
        while not any("ModelServer/tiny: Ready" in line for line in lines[-1:]):
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(lines[-80:])
            assert time.monotonic() < deadline, "".join(lines[-80:])
            lines.append(line)
        keys = sorted(o.key for o in client.list("results", "team-a/identity-lora/"))
        assert f"team-a/identity-lora/{RESULT_MARKER}" in keys
        assert "team-a/identity-lora/adapter_model.safetensors" in keys
        record = json.loads(client.get("results", f"team-a/identity-lora/{RESULT_MARKER}"))
        assert {f["name"] for f in record["files"]} >= {"adapter_model.safetensors", "adapter_config.json"}

        rows = json.loads((demo_data / "identity.json").read_text())
        taught = next(row["output"] for row in rows[:8] if row["instruction"] == QUESTION)
        answer = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
        reply = answer.chat.completions.create(
            model="identity", messages=[{"role": "user", "content": QUESTION}], temperature=0, max_tokens=64
        )
        assert reply.choices[0].message.content == taught
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    fetched = [line for line in lines if "fetching s3://results/team-a/identity-lora" in line]
    assert fetched, "".join(lines[-40:])
