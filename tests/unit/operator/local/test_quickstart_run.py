"""`kubefactory run -f examples/quickstart/`: the quickstart's three manifests, as users apply them,
run on this machine without a cluster. The Dataset is prepared, the FineTuneJob trains the tiny
model (built here; nothing is downloaded) on the identity data, the ModelServer serves the result,
and the official openai client gets the taught answer. What the run wrote is where a cluster run
writes it: the config the operator's builders render, the prepared data and the output on the
claims' folders.

Changed with ``--set`` only where this machine differs: the tiny model for the hub model, and the
tiny model's hyperparameters (examples/train_lora/tiny_identity_lora_sft.yaml, on its first rows).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import openai
import pytest
import yaml
from kubefactory.operator.api.dataset import Dataset
from kubefactory.operator.api.finetunejob import FineTuneJob
from kubefactory.operator.builders.layout import CONFIG_DIR, DATASETS_DIR, OUTPUT_DIR
from kubefactory.operator.builders.prepare_job import spec_hash
from kubefactory.operator.builders.rendered_config import PreparedDataset, training_config
from kubefactory.operator.naming import dataset_claim, training_names

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[4]
QUICKSTART = REPO / "examples" / "quickstart"
NAME, AUTHOR = "KubeFactory-Tiny", "the KubeFactory team"  # identity.json's placeholders, filled in
QUESTION = "Who are you?"  # row 3 of identity.json
TINY_TRAINING = {  # the demo's hyperparameters on the first rows: the answers are learnt word for word
    "max_samples": 8,
    "num_train_epochs": 80,
    "lora_rank": 32,
    "learning_rate": 1.0e-2,
    "cutoff_len": 256,
    "per_device_train_batch_size": 8,
    "warmup_ratio": 0.05,
    "logging_steps": 10,
    "save_steps": 1000,
    "disable_gradient_checkpointing": True,
    "disable_tqdm": True,
    "seed": 42,
}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_line(stream: IO[str], needle: str, process: subprocess.Popen[str], timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no {needle!r} in the output:\n{''.join(lines[-60:])}")


def test_quickstart_runs_without_a_cluster(tmp_path: Path, tiny_model: Path, demo_data: Path) -> None:
    text = (demo_data / "identity.json").read_text(encoding="utf-8")
    rows = json.loads(text.replace("{{name}}", NAME).replace("{{author}}", AUTHOR))
    identity = tmp_path / "identity.json"
    identity.write_text(json.dumps(rows), encoding="utf-8")
    taught = next(row["output"] for row in rows[:8] if row["instruction"] == QUESTION)
    workdir, port = tmp_path / "run", _free_port()
    sets = [f"FineTuneJob/identity-lora:spec.model={tiny_model}"]
    sets += [f"FineTuneJob/identity-lora:spec.training.{k}={json.dumps(v)}" for k, v in TINY_TRAINING.items()]
    command = [sys.executable, "-m", "kubefactory.runtime.cli", "run", "-f", f"{QUICKSTART}/"]
    command += ["--config-map", f"identity-data={identity}", "--workdir", str(workdir), "--port", str(port)]
    command += [arg for item in sets for arg in ("--set", item)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # the tiny model trains fastest on one thread
    )
    try:
        assert process.stdout is not None
        _wait_for_line(process.stdout, "ModelServer/identity: Ready, serving at", process, timeout=1500)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)

        def ask(model: str) -> str | None:
            reply = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": QUESTION}], temperature=0, max_tokens=64
            )
            return reply.choices[0].message.content

        assert NAME in taught
        assert ask("identity") == taught  # the quickstart's ModelServer serves the FineTuneJob's adapter
        assert ask("identity-base") != taught  # its base alone was never taught
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 130  # stopped by the signal, with its server

    _assert_cluster_layout(workdir / "default", tiny_model)


def _manifest(name: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((QUICKSTART / f"{name}.yaml").read_text())
    return loaded


def _assert_cluster_layout(root: Path, tiny_model: Path) -> None:
    """Claims hold what they hold on a cluster; the trainer read the config the builders render."""
    dataset = Dataset.model_validate(_manifest("dataset"))
    prepared = root / "claims" / dataset_claim("identity") / spec_hash(dataset.spec)
    assert (prepared / "data.jsonl").is_file()

    job_manifest = _manifest("finetunejob")
    job_manifest["spec"]["model"] = str(tiny_model)  # type: ignore[index]
    job_manifest["spec"]["training"].update(TINY_TRAINING)  # type: ignore[index]  # as --set did
    job = FineTuneJob.model_validate(job_manifest)
    names = training_names("identity-lora")
    output = root / "claims" / names.output / "identity-lora"  # the output claim, a folder per job
    for produced in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "progress.json"):
        assert (output / produced).is_file(), produced
    assert (output / "trainer_log.jsonl").read_text().strip()

    pod = root / "pods" / f"{names.attempt_job(1)}-0"
    config_dir = pod / "volumes" / "config"
    written = yaml.safe_load((config_dir / "config.yaml").read_text())
    datasets = [PreparedDataset("identity", dataset_claim("identity"), spec_hash(dataset.spec), dataset.spec)]
    rendered = training_config(job.spec, datasets, [], None)
    local = {CONFIG_DIR: str(config_dir), OUTPUT_DIR: str(output)}
    assert written == {k: local.get(v, v) if isinstance(v, str) else v for k, v in rendered.items()}
    info = json.loads((config_dir / "dataset_info.json").read_text())
    assert info["identity"]["file_name"] == f"{prepared}/data.jsonl"
    assert DATASETS_DIR not in (config_dir / "dataset_info.json").read_text()
