"""Fixtures for the integration tier: a real kube-apiserver + etcd + scheduler + controller-manager + kwok.

The control plane is built from Go modules by ``hack/controlplane/cluster.py`` (cached under
``${KUBEFACTORY_CACHE:-~/.cache/kubefactory}/control-plane``) and started once per session in a
temporary state dir. To reuse a cluster started with ``make cluster-up``, set
``KUBEFACTORY_KUBECONFIG=.cluster/kubeconfig``; it is then left running after the session.

Fixtures: ``control_plane`` (session; a bare cluster with the fake nodes), ``crds`` (session;
applies ``crds/`` to it and waits until Established; request it in tests that need the
KubeFactory kinds, so a CRD the API server rejects fails those tests with its message), and
``namespace`` (a fresh namespace per test).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INTEGRATION_DIR = Path(__file__).resolve().parent
SERVICE_ACCOUNT_TIMEOUT = 60.0


def load_controlplane() -> types.ModuleType:
    """Import ``hack/controlplane/cluster.py`` by path (it is not part of the installed package).

    ``hack`` is registered as a namespace by hand; the repo root is deliberately not put on
    ``sys.path`` because its ``operator/`` folder would shadow the standard library's ``operator``.
    """
    if "hack" not in sys.modules:
        hack = types.ModuleType("hack")
        hack.__path__ = [str(REPO_ROOT / "hack")]
        sys.modules["hack"] = hack
    return importlib.import_module("hack.controlplane.cluster")


controlplane = load_controlplane()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs the local control plane (tests/integration)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the control plane before the first test when this session runs the tier.

    A cold build takes 15 minutes or more (longer on a busy machine): inside the session
    fixture it would count against the first test's timeout, and every test would then error.
    """
    selected = any(INTEGRATION_DIR in item.path.resolve().parents for item in session.items)
    if selected and not os.environ.get("KUBEFACTORY_KUBECONFIG") and has_go():
        try:
            controlplane.prepare()
        except Exception as error:  # the fixture retries and fails the tier's tests with it
            print(f"\n[integration] building the control plane failed: {error}", flush=True)


def has_go() -> bool:
    try:
        controlplane.gobuild.go_command()
    except RuntimeError:
        return False
    return True


def reuse_cluster(kubeconfig: str) -> Any:
    """A cluster started earlier by ``cluster.py up``: ``KUBEFACTORY_KUBECONFIG`` names its kubeconfig."""
    cluster = controlplane.Cluster(Path(kubeconfig).resolve().parent)
    if not cluster.is_healthy():
        pytest.fail(f"KUBEFACTORY_KUBECONFIG={kubeconfig} is not a healthy cluster started by cluster.py up")
    return cluster


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session's cluster: ``.kubeconfig``, ``.operator_kubeconfig``, ``.state_dir``, ``.kubectl()``."""
    if existing := os.environ.get("KUBEFACTORY_KUBECONFIG"):
        yield reuse_cluster(existing)
        return
    if controlplane.gobuild.missing_binaries() and not has_go():
        pytest.skip("no Go toolchain to build the control plane (see docs/development.md)")
    state_dir = tmp_path_factory.mktemp("control-plane")
    cluster = controlplane.up(state_dir, tied=True)  # no strays if the session is killed
    try:
        yield cluster
    finally:
        controlplane.down(state_dir)


@pytest.fixture(scope="session")
def crds(control_plane: Any) -> list[str]:
    """Apply the repo's ``crds/`` server-side; the names of the Established CRDs."""
    try:
        names: list[str] = controlplane.apply_crds(control_plane, REPO_ROOT / "crds")
    except controlplane.CrdError as error:
        pytest.fail(str(error), pytrace=False)
    return names


def namespace_name(test_name: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"{base or 'test'}-{uuid.uuid4().hex[:6]}"


def wait_for_default_service_account(control_plane: Any, namespace: str) -> None:
    """Pods are rejected until the controller-manager has created the ``default`` ServiceAccount."""
    deadline = time.monotonic() + SERVICE_ACCOUNT_TIMEOUT
    while time.monotonic() < deadline:
        found = control_plane.kubectl("get", "serviceaccount", "default", "-n", namespace, check=False)
        if found.returncode == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(
        f"no default ServiceAccount in namespace {namespace} after {SERVICE_ACCOUNT_TIMEOUT:.0f}s"
    )


@pytest.fixture
def namespace(control_plane: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    name = namespace_name(request.node.name)
    control_plane.kubectl("create", "namespace", name)
    try:
        wait_for_default_service_account(control_plane, name)
        yield name
    finally:
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


# --- the operator tests' shared fixtures (helpers live in test_operator_support.py) ---------------


@pytest.fixture(scope="module")
def kf_operator(control_plane: Any, crds: Any) -> Iterator[Any]:
    """One operator process per test module, running as the restricted operator identity."""
    from test_operator_support import running_operator

    with running_operator(control_plane) as operator:
        yield operator


@pytest.fixture
def volumes(control_plane: Any) -> Iterator[Any]:
    from test_operator_support import provided_volumes

    with provided_volumes(control_plane) as provider:
        yield provider


@pytest.fixture
def wait(control_plane: Any, kf_operator: Any, namespace: str) -> Any:
    from test_operator_support import Waiter

    kf_operator.ensure_running()
    return Waiter(control_plane, kf_operator, namespace)
