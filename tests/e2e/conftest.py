"""The e2e tier: whole user journeys on a REAL node (kubelet + containerd + runc on this host).

One cluster per session: the local control plane with the real node (hack/controlplane/node.py),
the images built from images/ and imported into it (hack/images), the operator installed IN the
cluster from charts/kubefactory with the chart's ServiceAccount. Everything is torn down after the
session — and, if the session is killed, by the next ``cluster-up``/``cluster-down`` or session.

Skipped, with the reason, only where a real node cannot run here: not root, no Go toolchain.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
OPERATOR_NAMESPACE = "kubefactory-system"
RELEASE = "kubefactory"


def load(name: str) -> types.ModuleType:
    """hack/ is not installed; register it by hand (the repo root would shadow ``operator``)."""
    if "hack" not in sys.modules:
        hack = types.ModuleType("hack")
        hack.__path__ = [str(REPO_ROOT / "hack")]
        sys.modules["hack"] = hack
    return importlib.import_module(name)


controlplane = load("hack.controlplane.cluster")
node = load("hack.controlplane.node")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.e2e)


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the real node needs root (containerd, kubelet, iptables, mounts); run as root"
    try:
        controlplane.gobuild.go_command()
    except RuntimeError:
        if controlplane.gobuild.missing_binaries():
            return "no Go toolchain to build the control plane and the kubelet (see docs/development.md)"
    return None


def say(message: str) -> None:
    """Progress on the terminal even under pytest's capture (a journey takes minutes)."""
    print(f"[e2e] {message}", file=sys.__stderr__, flush=True)


class Journey:
    """kubectl and helm against the session's cluster, and patient waiting."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result: subprocess.CompletedProcess[str] = self.cluster.kubectl(*args, input=input, check=check)
        return result

    def apply(self, manifest: dict[str, Any] | list[dict[str, Any]], namespace: str) -> None:
        items = manifest if isinstance(manifest, list) else [manifest]
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        self.kubectl("apply", "-n", namespace, "-f", "-", input=document)

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        found = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        return json.loads(found.stdout) if found.returncode == 0 else {}

    def wait_for(
        self,
        what: str,
        check: Callable[[], Any],
        timeout: float,
        every: float = 2.0,
        show: Callable[[], str] | None = None,
    ) -> Any:
        """Poll ``check`` until it returns something truthy; print ``show()`` whenever it changes."""
        deadline = time.monotonic() + timeout
        shown = None
        while time.monotonic() < deadline:
            if show is not None and (line := show()) != shown:
                say(line)
                shown = line
            if result := check():
                return result
            time.sleep(every)
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        helm = str(controlplane.Binaries.default().helm)
        cmd = [helm, f"--kubeconfig={self.cluster.kubeconfig}", *args]
        result = subprocess.run(cmd, text=True, capture_output=True, timeout=300)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr}{result.stdout}")
        return result

    def claim_host_path(self, claim: str, namespace: str) -> Path:
        """Where a bound claim's hostPath volume is on this host (the node is this host)."""
        volume = self.get("pvc", claim, namespace)["spec"]["volumeName"]
        return Path(self.get("pv", volume, "")["spec"]["hostPath"]["path"])

    def logs(self, pod: str, namespace: str) -> str:
        return self.kubectl("logs", pod, "-n", namespace, "--all-containers", check=False).stdout


def local_values() -> dict[str, Any]:
    """The chart's values for this cluster: everything on the real node, images already there."""
    toleration = node.NODE_TOLERATION
    on_node = {node.NODE_LABEL_KEY: node.NODE_LABEL_VALUE}
    return {
        "image": {"pullPolicy": "IfNotPresent"},
        "nodeSelector": on_node,
        "tolerations": [toleration],
        "settings": {
            "nodeSelectors": {"cpu": on_node},
            "defaultTolerations": [toleration],
            "storageClassName": node.STORAGE_CLASS,
            "resyncSeconds": 5,
        },
    }


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The local control plane with the real node, CRDs applied, the operator installed by Helm."""
    if reason := skip_reason():
        pytest.skip(reason)
    state_dir = tmp_path_factory.mktemp("real-cluster")
    say("starting the control plane and the real node (images built from images/ and imported; "
        "a first build takes about 15 minutes, later ones seconds)")  # fmt: skip
    started = time.monotonic()
    cluster = controlplane.up(state_dir, tied=True, real_node=True, images=controlplane.NodeImages())
    try:
        controlplane.apply_crds(cluster)
        journey = Journey(cluster)
        values = tmp_path_factory.mktemp("helm") / "values.json"
        values.write_text(json.dumps(local_values()))
        journey.helm(
            "install", RELEASE, str(REPO_ROOT / "charts" / "kubefactory"), "--namespace", OPERATOR_NAMESPACE,
            "--create-namespace", "--values", str(values), "--wait", "--timeout=180s",
        )  # fmt: skip
        say(f"cluster with real node and operator ready in {time.monotonic() - started:.0f}s")
        yield cluster
    finally:
        controlplane.down(state_dir)
        say("cluster down; host state restored")


@pytest.fixture(scope="session")
def journey(real_cluster: Any) -> Journey:
    return Journey(real_cluster)


@pytest.fixture
def e2e_namespace(journey: Journey, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"e2e-{request.node.name.replace('_', '-')[:40].strip('-')}"
    journey.kubectl("create", "namespace", name)
    deadline = time.monotonic() + 60
    while journey.kubectl("get", "sa", "default", "-n", name, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no default ServiceAccount in {name}")
        time.sleep(0.5)
    yield name


def copy_tree_readable(source: Path, destination: Path) -> None:
    """A copy pods running as any uid can read."""
    shutil.copytree(source, destination, dirs_exist_ok=True)
    for path in [destination, *destination.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
