"""The real node's generated configuration (hack/controlplane/node.py): pure parts, no host changes."""

from __future__ import annotations

import importlib
import json
import sys
import types
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


def load(name: str) -> types.ModuleType:
    if "hack" not in sys.modules:  # hack/ is not installed; the repo root must not shadow `operator`
        hack = types.ModuleType("hack")
        hack.__path__ = [str(REPO_ROOT / "hack")]
        sys.modules["hack"] = hack
    return importlib.import_module(name)


node = load("hack.controlplane.node")
components = load("hack.controlplane.components")
layout = load("hack.controlplane.layout")


@pytest.fixture
def node_dir(tmp_path: Path) -> object:
    return node.NodeDir(tmp_path / "state" / "node")


def test_cni_bridge_keeps_pods_on_the_host(node_dir: object) -> None:
    node.write_cni_config(node_dir)
    config = json.loads((node_dir.cni_conf / "10-kubefactory.conflist").read_text())
    bridge = config["plugins"][0]
    assert bridge["bridge"] == node.BRIDGE and bridge["isGateway"] is True
    assert bridge["ipMasq"] is False  # nothing is masqueraded out of the host
    assert bridge["ipam"]["ranges"][0][0] == {
        "subnet": node.SUBNET,
        "gateway": node.GATEWAY,
        "rangeStart": "10.250.0.10",
    }
    assert bridge["ipam"]["dataDir"] == str(node_dir.ipam)


def test_guards_drop_pod_traffic_leaving_the_host_and_untranslated_service_addresses() -> None:
    rules = node.guard_rules("eth0")
    assert rules[node.GUARD_CHAINS["FORWARD"]] == [["-s", node.SUBNET, "!", "-o", node.BRIDGE, "-j", "DROP"]]
    assert rules[node.GUARD_CHAINS["OUTPUT"]] == [["-d", layout.SERVICE_CIDR, "-o", "eth0", "-j", "DROP"]]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("failCgroupV1", False),  # the host has cgroup v1 with a cgroup2 mount
        ("cgroupDriver", "cgroupfs"),  # no systemd
        ("failSwapOn", False),
        ("oomScoreAdj", 0),  # no CAP_SYS_RESOURCE in this VM
        ("imageGCHighThresholdPercent", 100),  # a collected image cannot be pulled again
        ("clusterDNS", [node.GATEWAY]),
        ("registerWithTaints", [node.NODE_TAINT]),
        ("authorization", {"mode": "AlwaysAllow"}),  # kubectl logs/exec without webhooks
    ],
)
def test_kubelet_config(node_dir: object, key: str, value: object) -> None:
    ports = dict.fromkeys(node.NODE_PORT_NAMES, 1)
    config = node.kubelet_config(node_dir, ports)
    assert config[key] == value
    assert config["containerRuntimeEndpoint"] == f"unix://{node_dir.socket}"


def test_containerd_config_restricts_oom_score_adj_and_uses_its_own_dirs(node_dir: object) -> None:
    text = node.containerd_config(node_dir, "example/pause:1")
    assert "restrict_oom_score_adj = true" in text
    assert "SystemdCgroup = false" in text
    assert f'address = "{node_dir.socket}"' in text
    assert f'state = "{node_dir.containerd_state}"' in text
    assert f'conf_dir = "{node_dir.cni_conf}"' in text
    assert 'sandbox_image = "example/pause:1"' in text


def test_storage_is_a_default_class_with_a_pool_of_node_local_volumes(node_dir: object) -> None:
    manifests = node.storage_manifests(node_dir)
    storage_class, *volumes = manifests
    assert storage_class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert len(volumes) == node.VOLUME_POOL
    paths = {volume["spec"]["hostPath"]["path"] for volume in volumes}
    assert len(paths) == node.VOLUME_POOL and all(path.startswith(str(node_dir.volumes)) for path in paths)
    assert all(volume["spec"]["storageClassName"] == node.STORAGE_CLASS for volume in volumes)


def test_api_server_is_reachable_from_pods_only_with_a_real_node() -> None:
    assert "--bind-address=127.0.0.1" in components.reachability_args(False)
    real = components.reachability_args(True)
    assert f"--advertise-address={node.GATEWAY}" in real and "--endpoint-reconciler-type=lease" in real


def test_mounts_under_lists_deepest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = tmp_path / "mounts"
    root = tmp_path / "node"
    table.write_text(
        f"tmpfs {root}/kubelet tmpfs rw 0 0\n"
        f"tmpfs {root}/kubelet/pods/a/volumes/x tmpfs rw 0 0\n"
        f"tmpfs {tmp_path}/nodeother tmpfs rw 0 0\n"
    )
    points = node.mounts_under([root], table)
    assert points == [f"{root}/kubelet/pods/a/volumes/x", f"{root}/kubelet"]
