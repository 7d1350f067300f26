"""The quickstart, for real: kubectl apply → a Dataset prepared by a real Job → a FineTuneJob trained
by torchrun across two real pods (rendezvous through the headless Service) → the adapter on its
claim; a trainer pod deleted mid-run and the group resuming from its latest checkpoint; and the
ModelServer answering a training question with the taught answer through its Service.

The manifests are examples/quickstart/ as users apply them, changed only where this machine
differs from a GPU cluster: the tiny model (built here, on a claim) instead of a hub model, two
CPU nodes, and the tiny model's hyperparameters (examples/train_lora/tiny_identity_lora_sft.yaml).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_ROOT, Journey, copy_tree_readable, say

pytestmark = pytest.mark.slow

QUICKSTART = REPO_ROOT / "examples" / "quickstart"
DEMO_DATA = Path(
    os.environ.get("KUBEFACTORY_DEMO_DATA", REPO_ROOT.parent / "shared" / "datasets" / "llamafactory-demo")
)
NAME, AUTHOR = "KubeFactory-Tiny", "the KubeFactory team"  # identity.json's placeholders, filled in
TINY_TRAINING = {  # examples/train_lora/tiny_identity_lora_sft.yaml, for two processes
    "lora_rank": 32,
    "cutoff_len": 256,
    "per_device_train_batch_size": 4,
    "learning_rate": 1.0e-2,
    "num_train_epochs": 30.0,
    "warmup_ratio": 0.05,
    "logging_steps": 5,
    "save_steps": 60,
    "disable_gradient_checkpointing": True,
    "seed": 42,
}
PHASE_TIMEOUT = 900.0


def quickstart(name: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((QUICKSTART / f"{name}.yaml").read_text())
    return manifest


def identity_rows() -> list[dict[str, str]]:
    text = (DEMO_DATA / "identity.json").read_text(encoding="utf-8")
    rows: list[dict[str, str]] = json.loads(text.replace("{{name}}", NAME).replace("{{author}}", AUTHOR))
    return rows


def tiny_model() -> Path:
    kubefactory = Path(sys.executable).parent / "kubefactory"
    args = [
        str(kubefactory),
        "tiny-model",
        "--corpus",
        str(DEMO_DATA),
        "--hidden-size",
        "128",
        "--layers",
        "4",
    ]
    return Path(subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip())


def model_claim(journey: Journey, namespace: str) -> list[dict[str, Any]]:
    """A PersistentVolume on the node holding the tiny model, and the claim ``models`` bound to it."""
    state_node = Path(journey.cluster.state_dir) / "node"
    folder = state_node / "e2e-models" / namespace
    copy_tree_readable(tiny_model(), folder / "tiny")
    volume = f"models-{namespace}"
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadOnlyMany"],
                "storageClassName": "",
                "hostPath": {"path": str(folder), "type": "Directory"},
                "claimRef": {"namespace": namespace, "name": "models"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "models", "namespace": namespace},
            "spec": {
                "accessModes": ["ReadOnlyMany"],
                "storageClassName": "",
                "volumeName": volume,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    ]


def finetunejob() -> dict[str, Any]:
    job = quickstart("finetunejob")
    job["spec"]["model"] = "pvc://models/tiny"
    job["spec"]["training"].update(TINY_TRAINING)
    job["spec"]["resources"] = {"accelerator": "cpu", "nodes": 2, "memory": "3Gi"}
    return job


def get_summary(journey: Journey, namespace: str) -> str:
    """``kubectl get kubefactory`` as a user watches it (printer columns)."""
    listing = journey.kubectl("get", "kubefactory", "-n", namespace, "--no-headers", check=False).stdout
    return " | ".join(" ".join(line.split()) for line in listing.splitlines()) or "(nothing yet)"


def phase(journey: Journey, kind: str, name: str, namespace: str) -> str:
    return str(journey.get(kind, name, namespace).get("status", {}).get("phase", ""))


def trainer_pods(journey: Journey, namespace: str, attempt: int | None = None) -> list[dict[str, Any]]:
    selector = "kubefactory.io/finetunejob=identity-lora,app.kubernetes.io/component=trainer"
    if attempt is not None:
        selector += f",kubefactory.io/attempt={attempt}"
    listing = journey.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout
    pods: list[dict[str, Any]] = json.loads(listing)["items"]
    return pods


def running(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [pod for pod in pods if pod["status"].get("phase") == "Running"]


def test_quickstart_trains_on_two_real_pods_resumes_after_a_pod_is_lost_and_serves_the_answer(
    journey: Journey, e2e_namespace: str
) -> None:
    ns = e2e_namespace
    rows = identity_rows()
    data = json.dumps(rows, ensure_ascii=False)
    journey.kubectl(
        "create", "configmap", "identity-data", "-n", ns, "--from-file=identity.json=/dev/stdin", input=data
    )
    journey.apply(model_claim(journey, ns), ns)
    journey.apply([quickstart("dataset"), finetunejob()], ns)

    show = lambda: get_summary(journey, ns)  # noqa: E731
    journey.wait_for(
        "the Dataset to be Ready",
        lambda: phase(journey, "dataset", "identity", ns) == "Ready",
        300,
        show=show,
    )
    dataset = journey.get("dataset", "identity", ns)["status"]
    assert dataset.get("samples") == len(rows), dataset

    # two trainer pods run on the real node; node rank 0 is reached through the headless Service
    two_running = lambda: pods if len(pods := running(trainer_pods(journey, ns, attempt=1))) == 2 else None  # noqa: E731
    pods = journey.wait_for("two running trainer pods", two_running, PHASE_TIMEOUT, show=show)
    assert {pod["spec"]["nodeName"] for pod in pods} == {"kubefactory-real-node"}

    def checkpoint_saved() -> str | None:
        status = journey.get("finetunejob", "identity-lora", ns).get("status", {})
        return status.get("latestCheckpoint") if status.get("phase") == "Running" else None

    checkpoint = journey.wait_for("a first complete checkpoint", checkpoint_saved, PHASE_TIMEOUT, show=show)
    step_then = journey.get("finetunejob", "identity-lora", ns)["status"]["progress"]["step"]
    victim = sorted(p["metadata"]["name"] for p in trainer_pods(journey, ns, attempt=1))[-1]
    say(f"deleting trainer pod {victim} at step {step_then} (latest checkpoint {checkpoint})")
    journey.kubectl("delete", "pod", victim, "-n", ns, "--wait=false")

    journey.wait_for(
        "the FineTuneJob to succeed",
        lambda: phase(journey, "finetunejob", "identity-lora", ns) in ("Succeeded", "Failed"),
        PHASE_TIMEOUT,
        show=show,
    )
    status = journey.get("finetunejob", "identity-lora", ns)["status"]
    assert status["phase"] == "Succeeded", status
    assert status["attempts"] >= 2, status  # the group restarted after the pod was lost
    resumed = trainer_pods(journey, ns, attempt=status["attempts"])
    logs = "\n".join(journey.logs(pod["metadata"]["name"], ns) for pod in resumed)
    match = re.search(r"resuming from \S*checkpoint-(\d+)", logs)
    assert match, f"the restarted pods did not resume from a checkpoint:\n{logs[-3000:]}"
    assert int(match.group(1)) >= 1
    say(
        f"attempt {status['attempts']} resumed from checkpoint-{match.group(1)}; {status['progress'].get('summary')}"
    )

    output = journey.claim_host_path(status["outputLocation"].split("/")[2], ns) / "identity-lora"
    assert (output / "adapter_model.safetensors").is_file(), sorted(p.name for p in output.iterdir())
    losses = [
        r["loss"]
        for r in map(json.loads, (output / "trainer_log.jsonl").read_text().splitlines())
        if "loss" in r
    ]
    assert losses[-1] < losses[0] / 4, losses
