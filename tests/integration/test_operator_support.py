"""What the operator's integration tests share: the operator as a real process, waits, and helpers.

The operator runs as ``python -m kubefactory.operator`` with the control plane's restricted
``kubefactory-operator`` identity, bound to exactly the rules of ``kubefactory.operator.rbac``:
every journey is also a test that those rules are enough. One operator serves each test module
(some tests kill and restart it on purpose); pods finish on cue through the kwok stage annotations.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
TIMEOUT = 90.0
RESYNC_SECONDS = 3
OPERATOR_USER = "kubefactory-operator"
KWOK_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
ACCELERATOR_LABEL = "kubefactory.io/accelerator"
OUTCOME = "kubefactory.io/kwok-outcome"
MESSAGE = "kubefactory.io/kwok-termination-message"
TRAINING = {"stage": "sft", "do_train": True, "finetuning_type": "lora", "template": "qwen", "save_steps": 10}
IDENTITY_ROWS = [
    {"instruction": "hi", "input": "", "output": "Hello! I am KubeFactory's assistant."},
    {"instruction": "Who are you?", "input": "", "output": "I am an assistant fine-tuned on Kubernetes."},
]
OPERATOR_SETTINGS = {
    "defaultTolerations": [KWOK_TOLERATION],
    "nodeSelectors": {"cpu": {ACCELERATOR_LABEL: "cpu"}},  # CPU work stays off the GPU nodes
    "resyncSeconds": RESYNC_SECONDS,
}


def _die_with_parent() -> None:
    """The operator ends with the test session, even a killed one (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class OperatorProcess:
    """``python -m kubefactory.operator`` as the restricted identity; kill and start it at will."""

    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.config = workdir / "operator.yaml"
        self.config.write_text(yaml.safe_dump(OPERATOR_SETTINGS))
        self.log = workdir / "operator.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.env: dict[str, str] = {}  # on top of this process's environment, e.g. settings variables

    def start(self) -> None:
        self.starts += 1
        command = [
            sys.executable,
            "-m",
            "kubefactory.operator",
            "--config",
            str(self.config),
            "--kubeconfig",
            str(self.kubeconfig),
        ]
        with self.log.open("ab") as log:
            log.write(f"\n--- start {self.starts} ---\n".encode())
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                env={**os.environ, **self.env},
            )

    def kill(self) -> None:
        """SIGKILL: no clean-up, as when a node dies under the operator."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def ensure_running(self) -> None:
        """After a test that killed it and failed before starting it again."""
        if self.process is None or self.process.poll() is not None:
            self.start()

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def bind_rbac(cluster: Any) -> None:
    """The ClusterRole of kubefactory.operator.rbac, bound to the control plane's operator identity."""
    from kubefactory.operator.rbac import cluster_role, cluster_role_binding

    subject = {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": OPERATOR_USER}
    objects = {"apiVersion": "v1", "kind": "List", "items": [cluster_role(), cluster_role_binding(subject)]}
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(objects))


@contextlib.contextmanager
def running_operator(cluster: Any) -> Iterator[OperatorProcess]:
    """An operator for one test module, stopped before the control plane is (atexit: if the session dies)."""
    bind_rbac(cluster)
    workdir = Path(tempfile.mkdtemp(prefix="kubefactory-operator-"))
    operator = OperatorProcess(Path(cluster.operator_kubeconfig), workdir)
    atexit.register(operator.stop)
    operator.start()
    try:
        yield operator
    finally:
        operator.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --- reading the cluster --------------------------------------------------------------------------


def get_json(cluster: Any, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)
    return data


def items(cluster: Any, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
    args = [kind, "-n", namespace] + (["-l", selector] if selector else [])
    found: list[dict[str, Any]] = get_json(cluster, *args)["items"]
    return found


def status(cluster: Any, namespace: str, kind: str, name: str) -> dict[str, Any]:
    found = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    if found.returncode != 0:
        return {}
    result: dict[str, Any] = json.loads(found.stdout).get("status") or {}
    return result


def condition(found: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in found.get("conditions") or [] if c["type"] == type_), {})


def events(cluster: Any, namespace: str, name: str) -> list[tuple[str, str]]:
    listed = get_json(cluster, "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")
    return [(event["reason"], event.get("message", "")) for event in listed["items"]]


class Waiter:
    """Bounded waits that, on timeout, say what was wanted, what was there, and what the operator said."""

    def __init__(self, cluster: Any, operator: OperatorProcess | None, namespace: str) -> None:
        self.cluster, self.operator, self.namespace = cluster, operator, namespace

    def until(self, description: str, probe: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {description}\n{self.context()}"
                )
            time.sleep(0.3)

    def context(self) -> str:
        found = self.cluster.kubectl(
            "get",
            "finetunejobs,datasets,modelservers,jobs,deployments,pods",
            "-n",
            self.namespace,
            "-o",
            "wide",
            check=False,
        )
        statuses = self.cluster.kubectl(
            "get", "finetunejobs,datasets,modelservers", "-n", self.namespace, "-o", "yaml", check=False
        )
        text = f"objects in {self.namespace}:\n{found.stdout}{found.stderr}\n{statuses.stdout[-3000:]}"
        if self.operator is not None:
            text += f"\noperator log (last lines):\n{self.operator.tail()}"
        return text

    def phase(self, kind: str, name: str, phase: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        return self.until(
            f"{kind} {name} to be {phase}",
            lambda: (
                found
                if (found := status(self.cluster, self.namespace, kind, name)).get("phase") == phase
                else None
            ),
            timeout,
        )

    def pods(self, selector: str, count: int, phase: str = "Running") -> list[dict[str, Any]]:
        def ready() -> list[dict[str, Any]] | None:
            pods = [
                pod
                for pod in items(self.cluster, "pods", self.namespace, selector)
                if pod["status"].get("phase") == phase and not pod["metadata"].get("deletionTimestamp")
            ]
            return pods if len(pods) == count else None

        return self.until(f"{count} {phase} pods with {selector}", ready)


# --- making things --------------------------------------------------------------------------------


def create(cluster: Any, manifest: dict[str, Any]) -> None:
    cluster.kubectl("create", "-f", "-", input=json.dumps(manifest))


class Volumes:
    """PersistentVolumes pre-bound to the claims the operator will create (the cluster has no provisioner)."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self.created: list[str] = []

    def provide(self, namespace: str, claim: str) -> None:
        name = f"{namespace}-{claim}"[:253]
        volume = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": {"kubefactory.io/test": "true"}},
            "spec": {
                "capacity": {"storage": "1Ti"},
                "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadOnlyMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": f"/tmp/kubefactory-test-volumes/{name}"},
                "claimRef": {"namespace": namespace, "name": claim},
            },
        }
        create(self.cluster, volume)
        self.created.append(name)

    def remove_all(self) -> None:
        if self.created:
            self.cluster.kubectl("delete", "pv", *self.created, "--wait=false", check=False)


@contextlib.contextmanager
def provided_volumes(cluster: Any) -> Iterator[Volumes]:
    """Volumes for one test, removed after it (they are cluster-scoped: the namespace does not take them)."""
    provider = Volumes(cluster)
    try:
        yield provider
    finally:
        provider.remove_all()


def dataset_manifest(name: str, namespace: str, config_map: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubefactory.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {"configMap": {"name": config_map, "key": "data.json"}},
            "formatting": "alpaca",
            **spec,
        },
    }


def finetunejob_manifest(
    name: str, namespace: str, datasets: tuple[str, ...] = ("identity",), **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "kubefactory.io/v1alpha1",
        "kind": "FineTuneJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "model": "hf://Qwen/Qwen2.5-0.5B",
            "datasets": [{"name": dataset} for dataset in datasets],
            "training": dict(TRAINING),
            **spec,
        },
    }


def run_prepare(rows: list[dict[str, Any]], workdir: Path, name: str = "identity") -> tuple[int, str]:
    """The prepare command the Dataset's pod runs, run here on the same rows: its exit code and report."""
    source, log = workdir / "source", workdir / "termination-log"
    source.mkdir(parents=True, exist_ok=True)
    (source / "data.json").write_text(json.dumps(rows))
    command = [
        sys.executable, "-m", "kubefactory.runtime.cli", "dataset", "prepare", "--name", name,
        "--entry", json.dumps({"file_name": "data.json", "formatting": "alpaca"}), "--dataset-dir", str(source),
        "--output", str(workdir / "prepared"), "--termination-log", str(log),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return result.returncode, log.read_text()


def finish_prepare(cluster: Any, wait: Waiter, dataset: str, code: int, report: str) -> None:
    """The prepare pod ends as the command did: exit code and report as its termination message."""
    (pod,) = wait.pods(f"kubefactory.io/dataset={dataset}", 1)
    outcome = {OUTCOME: "succeed" if code == 0 else "fail", MESSAGE: report}
    if code:
        outcome["kubefactory.io/kwok-exit-code"] = str(code)
    annotate(cluster, wait.namespace, pod["metadata"]["name"], outcome)


def annotate(cluster: Any, namespace: str, pod: str, annotations: dict[str, str]) -> None:
    cluster.kubectl(
        "annotate", "pod", pod, "-n", namespace, "--overwrite", *(f"{k}={v}" for k, v in annotations.items())
    )


def ready_dataset(
    cluster: Any,
    wait: Waiter,
    volumes: Volumes,
    workdir: Path,
    name: str = "identity",
    rows: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Dataset from a ConfigMap, prepared for real by the prepare command, and Ready."""
    rows = IDENTITY_ROWS if rows is None else rows
    namespace = wait.namespace
    cluster.kubectl(
        "create", "configmap", f"{name}-rows", "-n", namespace, f"--from-literal=data.json={json.dumps(rows)}"
    )
    volumes.provide(namespace, f"{name}-data")
    create(cluster, dataset_manifest(name, namespace, f"{name}-rows"))
    code, report = run_prepare(rows, workdir / name, name)
    finish_prepare(cluster, wait, name, code, report)
    return wait.phase("dataset", name, "Ready")


def publish_progress(cluster: Any, namespace: str, job: str, record: dict[str, Any]) -> None:
    """What node rank 0's ``kubefactory report-progress`` does: merge the record into the ConfigMap."""
    patch = {"data": {"progress.json": json.dumps(record)}}
    cluster.kubectl(
        "patch", "configmap", f"{job}-progress", "-n", namespace, "--type=merge", "-p", json.dumps(patch)
    )


def resolved_env(pod: dict[str, Any]) -> dict[str, str]:
    """The trainer's environment as the kubelet would resolve it (values and downward-API fields)."""
    meta = pod["metadata"]
    env: dict[str, str] = {}
    for item in pod["spec"]["containers"][0]["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        path = item["valueFrom"]["fieldRef"]["fieldPath"]  # metadata.name, metadata.labels['key']...
        field, _, key = path.removeprefix("metadata.").partition("[")
        value = meta[field]
        env[item["name"]] = value[key[1:-2]] if key else value
    return env


def children(cluster: Any, namespace: str, job: str) -> dict[str, list[str]]:
    """Every kind of child of a FineTuneJob → the names found (label kubefactory.io/finetunejob)."""
    kinds = "jobs,configmaps,services,persistentvolumeclaims,serviceaccounts,roles,rolebindings"
    listed = get_json(cluster, kinds, "-n", namespace, "-l", f"kubefactory.io/finetunejob={job}")
    out: dict[str, list[str]] = {}
    for item in listed["items"]:
        if not item["metadata"].get("deletionTimestamp"):
            out.setdefault(item["kind"], []).append(item["metadata"]["name"])
    return {kind: sorted(names) for kind, names in out.items()}
