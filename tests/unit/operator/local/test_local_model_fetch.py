"""`kubefactory run` with an hf:// model: fetched once into the model cache claim, as a cluster pod's
init container does, then trained on. Two FineTuneJobs on the same model download it once.

The real hub is unreachable from the machines these tests run on: the tiny model (built here) is
served by a local server speaking the hub's download API (tests/unit/runtime/storage/fake_hub.py),
which counts every download.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
FAKE_HUB = REPO / "tests" / "unit" / "runtime" / "storage" / "fake_hub.py"


def _fake_hub() -> Any:
    spec = importlib.util.spec_from_file_location("kubefactory_tests_fake_hub", FAKE_HUB)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def hub(tiny_model: Path) -> Iterator[Any]:
    fake = _fake_hub()
    files = {str(p.relative_to(tiny_model)): p.read_bytes() for p in tiny_model.rglob("*") if p.is_file()}
    commit = fake.commit_of(files)
    served = fake.FakeHub(repos={"kubefactory/tiny": fake.Repo({commit: files}, {"main": commit})})
    server = fake.start_hub(served)
    yield served
    server.shutdown()


def _manifests(folder: Path, demo_data: Path) -> None:
    dataset = {
        "apiVersion": "kubefactory.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "identity"},
        "spec": {
            "source": {"configMap": {"name": "identity-data", "key": "identity.json"}},
            "formatting": "alpaca",
        },
    }
    training = {"stage": "sft", "do_train": True, "finetuning_type": "lora", "template": "qwen", "max_samples": 8,
                "num_train_epochs": 1, "per_device_train_batch_size": 8, "report_to": "none", "disable_tqdm": True,
                "save_steps": 1000}  # fmt: skip
    jobs = [
        {
            "apiVersion": "kubefactory.io/v1alpha1",
            "kind": "FineTuneJob",
            "metadata": {"name": name},
            "spec": {
                "model": "hf://kubefactory/tiny",
                "datasets": [{"name": "identity"}],
                "training": training,
                "resources": {"accelerator": "cpu"},
            },
        }
        for name in ("first", "second")
    ]
    (folder / "manifests.yaml").write_text(yaml.safe_dump_all([dataset, *jobs]))
    (folder / "identity.json").write_text((demo_data / "identity.json").read_text())


def test_two_jobs_on_one_hub_model_download_it_once(hub: Any, tmp_path: Path, demo_data: Path) -> None:
    _manifests(tmp_path, demo_data)
    workdir = tmp_path / "run"
    command = [sys.executable, "-m", "kubefactory.runtime.cli", "run", "-f", str(tmp_path / "manifests.yaml")]
    command += ["--config-map", f"identity-data={tmp_path / 'identity.json'}", "--workdir", str(workdir)]
    env = {**os.environ, "HF_ENDPOINT": hub.url, "OMP_NUM_THREADS": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    env.pop("HF_TOKEN", None)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert "FineTuneJob/second: " in done.stdout and "in the cache already" in done.stdout

    cache = (
        workdir / "default" / "claims" / "kubefactory-model-cache" / "hf" / "models" / "kubefactory" / "tiny"
    )
    (fetched,) = cache.iterdir()  # one commit, one folder
    for name in ("first", "second"):
        config = yaml.safe_load(
            (workdir / "default" / "pods" / f"{name}-a1-0" / "volumes" / "config" / "config.yaml").read_text()
        )
        assert config["model_name_or_path"] == str(fetched)
        assert (
            workdir / "default" / "claims" / f"{name}-output" / name / "adapter_model.safetensors"
        ).is_file()
    for file in ("config.json", "model.safetensors", "tokenizer.json"):
        assert len(hub.downloads(file)) == 1, file
    report = json.loads(
        (workdir / "default" / "pods" / "finetunejob-first-fetch-model" / "termination-log").read_text()
    )
    assert report["downloaded"] and report["path"] == str(fetched)
