"""The quickstart journey on the local cluster's real node, shared by `make demo` and tests/e2e.

kubectl apply of examples/quickstart/ → a Dataset prepared by a real Job → a FineTuneJob trained
by torchrun across real pods → a ModelServer answering through its Service. The manifests are
the quickstart's as users apply them, changed only where this machine differs from a GPU
cluster: the tiny model (built here, offered on a claim) instead of a hub model, CPU nodes, and
the tiny model's hyperparameters (examples/train_lora/tiny_identity_lora_sft.yaml).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from hack.controlplane import cluster as controlplane
from hack.controlplane import layout, node

REPO_ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = REPO_ROOT / "examples" / "quickstart"
CHART = REPO_ROOT / "charts" / "kubefactory"
DEMO_DATA = Path(
    os.environ.get("KUBEFACTORY_DEMO_DATA", REPO_ROOT.parent / "shared" / "datasets" / "llamafactory-demo")
)
OPERATOR_NAMESPACE = "kubefactory-system"
RELEASE = "kubefactory"
NAME, AUTHOR = "KubeFactory-Tiny", "the KubeFactory team"  # identity.json's placeholders, filled in
FINETUNEJOB, DATASET, MODELSERVER = "identity-lora", "identity", "identity"
TINY_TRAINING = {  # examples/train_lora/tiny_identity_lora_sft.yaml, per process
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


def say(message: str) -> None:
    """Progress on the terminal, also under pytest's capture (a journey takes minutes)."""
    print(f"[journey] {message}", file=sys.__stderr__, flush=True)


AGE = re.compile(r"(?<!\S)\d+[smhd](\d+[smh])?(?!\S)")


def without_ages(line: str) -> str:
    """``kubectl get`` output with its AGE values blanked (``2m39s``, ``45s``, ``3h``)."""
    return AGE.sub("-", line)


class Journey:
    """kubectl and helm against a local cluster, and patient waiting."""

    def __init__(self, cluster: controlplane.Cluster) -> None:
        self.cluster = cluster

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl(*args, input=input, check=check)

    def apply(self, manifest: dict[str, Any] | list[dict[str, Any]], namespace: str) -> None:
        items = manifest if isinstance(manifest, list) else [manifest]
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        self.kubectl("apply", "-n", namespace, "-f", "-", input=document)

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
        where = ["-n", namespace] if namespace else []
        found = self.kubectl("get", kind, name, *where, "-o", "json", check=False)
        return dict(json.loads(found.stdout)) if found.returncode == 0 else {}

    def phase(self, kind: str, name: str, namespace: str) -> str:
        return str(self.get(kind, name, namespace).get("status", {}).get("phase", ""))

    def summary(self, namespace: str) -> str:
        """``kubectl get kubefactory`` as a user watches it (its printer columns)."""
        listing = self.kubectl("get", "kubefactory", "-n", namespace, "--no-headers", check=False).stdout
        return " | ".join(" ".join(line.split()) for line in listing.splitlines()) or "(nothing yet)"

    def wait_for(
        self,
        what: str,
        check: Callable[[], Any],
        timeout: float,
        every: float = 2.0,
        show: Callable[[], str] | None = None,
    ) -> Any:
        """Poll ``check`` until it returns something truthy; print ``show()`` whenever it changes
        (beyond its AGE columns, which change every second and would print every poll)."""
        deadline = time.monotonic() + timeout
        shown = None
        while time.monotonic() < deadline:
            if show is not None and without_ages(line := show()) != shown:
                say(line)
                shown = without_ages(line)
            if result := check():
                return result
            time.sleep(every)
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(layout.Binaries.default().helm), f"--kubeconfig={self.cluster.kubeconfig}", *args]
        result = subprocess.run(cmd, text=True, capture_output=True, timeout=300)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr}{result.stdout}")
        return result

    def claim_host_path(self, claim: str, namespace: str) -> Path:
        """Where a bound claim's hostPath volume is on this host (the node is this host)."""
        volume = self.get("pvc", claim, namespace)["spec"]["volumeName"]
        return Path(self.get("pv", volume)["spec"]["hostPath"]["path"])

    def logs(self, pod: str, namespace: str) -> str:
        return self.kubectl("logs", pod, "-n", namespace, "--all-containers", check=False).stdout

    def fresh_namespace(self, name: str) -> str:
        self.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=120s")
        self.kubectl("create", "namespace", name)
        self.wait_for(
            f"the default ServiceAccount in {name}",
            lambda: self.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0,
            60,
            every=0.5,
        )
        return name


# --- the operator, installed by Helm ------------------------------------------------------------------


def local_values() -> dict[str, Any]:
    """The chart's values for the local cluster: the operator and its pods on the real node."""
    toleration = node.NODE_TOLERATION
    on_node = {node.NODE_LABEL_KEY: node.NODE_LABEL_VALUE}
    return {
        "nodeSelector": on_node,
        "tolerations": [toleration],
        "settings": {
            "nodeSelectors": {"cpu": on_node},
            "defaultTolerations": [toleration],
            "storageClassName": node.STORAGE_CLASS,
            "resyncSeconds": 5,
        },
    }


def install_operator(journey: Journey, values_file: Path) -> None:
    """``helm upgrade --install`` of charts/kubefactory with :func:`local_values`; waits until Ready."""
    values_file.write_text(json.dumps(local_values(), indent=2) + "\n")
    journey.helm(
        "upgrade", "--install", RELEASE, str(CHART), "--namespace", OPERATOR_NAMESPACE, "--create-namespace",
        "--values", str(values_file), "--wait", "--timeout=180s",
    )  # fmt: skip


# --- the quickstart's manifests, for this machine --------------------------------------------------------


def quickstart(name: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((QUICKSTART / f"{name}.yaml").read_text())
    return manifest


def identity_rows() -> list[dict[str, str]]:
    text = (DEMO_DATA / "identity.json").read_text(encoding="utf-8")
    rows: list[dict[str, str]] = json.loads(text.replace("{{name}}", NAME).replace("{{author}}", AUTHOR))
    return rows


def tiny_model() -> Path:
    """The tiny model of `make demo-local` (built in-process and cached; no download)."""
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


def copy_tree_readable(source: Path, destination: Path) -> None:
    """A copy that pods running as any uid can read."""
    shutil.copytree(source, destination, dirs_exist_ok=True)
    for path in [destination, *destination.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def model_claim(journey: Journey, namespace: str) -> list[dict[str, Any]]:
    """A PersistentVolume on the node holding the tiny model, and the claim ``models`` bound to it
    (where a cluster would have a model cache or an hf:// download)."""
    folder = Path(journey.cluster.state_dir) / "node" / "e2e-models" / namespace
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


def finetunejob(nodes: int = 2) -> dict[str, Any]:
    job = quickstart("finetunejob")
    job["spec"]["model"] = "pvc://models/tiny"
    job["spec"]["training"].update(TINY_TRAINING)
    job["spec"]["resources"] = {"accelerator": "cpu", "nodes": nodes, "memory": "3Gi"}
    return job


def modelserver() -> dict[str, Any]:
    server = quickstart("modelserver")
    server["spec"]["resources"] = {"accelerator": "cpu", "memory": "2Gi"}
    return server


def create_inputs(journey: Journey, namespace: str) -> list[dict[str, str]]:
    """The identity ConfigMap (as the quickstart README creates it) and the model claim."""
    rows = identity_rows()
    journey.kubectl(
        "create", "configmap", "identity-data", "-n", namespace, "--from-file=identity.json=/dev/stdin",
        input=json.dumps(rows, ensure_ascii=False),
    )  # fmt: skip
    journey.apply(model_claim(journey, namespace), namespace)
    return rows


# --- the served model ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def port_forward(journey: Journey, target: str, port: int, namespace: str) -> Iterator[str]:
    """``kubectl port-forward`` to a Service; yields ``http://127.0.0.1:<local>``."""
    local = free_port()
    cmd = [
        controlplane.kubectl_binary(), f"--kubeconfig={journey.cluster.kubeconfig}", "port-forward",
        "-n", namespace, target, f"{local}:{port}",
    ]  # fmt: skip
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", local), timeout=1):
                break
            if process.poll() is not None:
                raise RuntimeError(
                    f"kubectl port-forward exited: {process.stdout.read() if process.stdout else ''}"
                )
            time.sleep(0.2)
        yield f"http://127.0.0.1:{local}"
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def ask(base_url: str, model: str, rows: list[dict[str, str]], api_key: str = "none") -> list[str]:
    """Greedy answers of the served model to the rows' questions (official openai client)."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=api_key, timeout=120)
    answers = []
    for row in rows:
        reply = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": row["instruction"]}],
            max_tokens=64,
            temperature=0,
        )
        answers.append((reply.choices[0].message.content or "").strip())
    return answers
