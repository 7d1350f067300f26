"""The e2e tier: whole user journeys on a REAL node (kubelet + containerd + runc on this host).

One cluster per session: the local control plane with the real node (hack/controlplane/node.py),
the images built from images/ and imported into it (hack/images), the operator installed IN the
cluster from charts/kubefactory with the chart's ServiceAccount. Everything is torn down after the
session — and, if the session is killed, by the next ``cluster-up``/``cluster-down`` or session.

Skipped, with the reason, only where a real node cannot run here: not root, no Go toolchain.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent


def load(name: str) -> types.ModuleType:
    """hack/ is not installed; register it by hand (the repo root would shadow ``operator``)."""
    if "hack" not in sys.modules:
        hack = types.ModuleType("hack")
        hack.__path__ = [str(REPO_ROOT / "hack")]
        sys.modules["hack"] = hack
    return importlib.import_module(name)


controlplane = load("hack.controlplane.cluster")
journeys = load("hack.journey")
Journey, say = journeys.Journey, journeys.say


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


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the binaries and images (and install the node's packages) before the first test.

    Cold, that is 15 to 30 minutes: inside the session fixture it would count against the
    first test's timeout. Nothing starts here; the fixture starts the cluster.
    """
    selected = any(E2E_DIR in item.path.resolve().parents for item in session.items)
    if selected and skip_reason() is None:
        say("building what the real node needs (cached after the first time; cold: 15-30 minutes)")
        started = time.monotonic()
        try:
            controlplane.prepare(real_node=True)
        except Exception as error:  # the fixture retries and fails the tier's tests with it
            say(f"building for the real node failed: {error}")
            return
        say(f"built or found cached in {time.monotonic() - started:.0f}s")


@pytest.fixture(scope="session")
def real_node_host() -> None:
    """Skips (with the reason) where this host cannot run a real node."""
    if reason := skip_reason():
        pytest.skip(reason)


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
        journeys.install_operator(Journey(cluster), tmp_path_factory.mktemp("helm") / "values.json")
        say(f"cluster with real node and operator ready in {time.monotonic() - started:.0f}s")
        yield cluster
    finally:
        controlplane.down(state_dir)
        say("cluster down; host state restored")


@pytest.fixture(scope="session")
def journey(real_cluster: Any) -> Any:
    return Journey(real_cluster)


@pytest.fixture
def e2e_namespace(journey: Any, request: pytest.FixtureRequest) -> str:
    name: str = journey.fresh_namespace(f"e2e-{request.node.name.replace('_', '-')[5:40].strip('-')}")
    return name
