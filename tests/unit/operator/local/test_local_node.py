"""The local stand-in for a kubelet: volumes as folders, pod paths mapped, commands from this install."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from kubefactory.operator.local.manifests import LocalRunError
from kubefactory.operator.local.node import LOOPBACK, LocalNode, Mapping
from kubefactory.operator.local.plan import LocalPod


def _pod(command: list[str], env: list[dict[str, Any]] | None = None, **extra: Any) -> LocalPod:
    container = {
        "name": "c",
        "command": command,
        "env": env or [],
        "volumeMounts": [
            {"name": "config", "mountPath": "/kubefactory/config", "readOnly": True},
            {"name": "output", "mountPath": "/kubefactory/output", "subPath": "job"},
            {"name": "dshm", "mountPath": "/dev/shm"},
        ],
        **extra,
    }
    volumes = [
        {"name": "config", "configMap": {"name": "job-config"}},
        {"name": "output", "persistentVolumeClaim": {"claimName": "job-output"}},
        {"name": "dshm", "emptyDir": {"medium": "Memory"}},
    ]
    spec = {"containers": [container], "volumes": volumes}
    files = {
        "job-config": {"config.yaml": "output_dir: /kubefactory/output\ndataset_dir: /kubefactory/config\n"}
    }
    return LocalPod("job-a1-0", "FineTuneJob/job", spec, files)


def test_mapping_rewrites_whole_path_parts_longest_first() -> None:
    mapping = Mapping((("/kubefactory/config/x", "/b"), ("/kubefactory/config", "/a")))
    assert mapping.rewrite("/kubefactory/config/x/y /kubefactory/config") == "/b/y /a"
    assert (
        mapping.rewrite("/kubefactory/configs /kubefactory/config.d")
        == "/kubefactory/configs /kubefactory/config.d"
    )
    assert mapping.rewrite('{"f": "/kubefactory/config"}') == '{"f": "/a"}'


def test_claims_are_shared_folders_and_config_maps_are_written_with_local_paths(tmp_path: Path) -> None:
    node = LocalNode(tmp_path, "ns", {}, {})
    pod = _pod(["kubefactory", "train", "/kubefactory/config/config.yaml"])
    process = node.start(pod)
    process.wait(timeout=120)
    output = tmp_path / "ns" / "claims" / "job-output" / "job"
    config = tmp_path / "ns" / "pods" / "job-a1-0" / "volumes" / "config"
    assert output.is_dir()
    assert (config / "config.yaml").read_text() == f"output_dir: {output}\ndataset_dir: {config}\n"
    assert (tmp_path / "ns" / "pods" / "job-a1-0" / "command").read_text().split() == [
        sys.executable, "-m", "kubefactory.runtime.cli", "train", str(config / "config.yaml"),
    ]  # fmt: skip


def test_one_process_runs_kubefactory_train_without_report_progress_or_torchrun(tmp_path: Path) -> None:
    node = LocalNode(tmp_path, "ns", {}, {})
    wrapped = ["kubefactory", "report-progress", "--file", "f", "--", "torchrun", "--module"]
    command = [*wrapped, "kubefactory.runtime.cli", "train", "/kubefactory/config/config.yaml"]
    pod = _pod(command)
    mapping, _ = node.mounts(pod)
    one = node.command(pod, mapping, {"NNODES": "1", "NPROC_PER_NODE": "1"})
    assert one[:3] == [sys.executable, "-m", "kubefactory.runtime.cli"] and one[3] == "train"
    several = node.command(pod, mapping, {"NNODES": "1", "NPROC_PER_NODE": "2"})
    assert Path(several[0]).name == "torchrun" and several[1:3] == ["--module", "kubefactory.runtime.cli"]


def test_the_environment_is_the_pods_on_the_loopback(tmp_path: Path) -> None:
    env: list[dict[str, Any]] = [
        {"name": "MASTER_ADDR", "value": "job-a1-0.job.ns.svc"},
        {"name": "PET_MASTER_PORT", "value": "29500"},
        {"name": "MASTER_PORT", "value": "29500"},
        {"name": "NODE_RANK", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "t"}}},
        {"name": "XDG_CACHE_HOME", "value": "/kubefactory/output/cache"},
        {"name": "HOME", "value": "/tmp"},
    ]  # fmt: skip
    node = LocalNode(tmp_path, "ns", {}, {"s": {"t": "secret", "U": "u"}})
    pod = _pod(["true"], env, envFrom=[{"secretRef": {"name": "s"}}])
    mapping, _ = node.mounts(pod)
    found = node.environment(pod, mapping, port=None)
    assert found["MASTER_ADDR"] == LOOPBACK and found["NODE_RANK"] == "0" and found["POD_NAME"] == "job-a1-0"
    assert found["MASTER_PORT"] == found["PET_MASTER_PORT"] != "29500"
    assert (found["TOKEN"], found["U"], found["HOME"]) == ("secret", "u", "/tmp")
    assert found["XDG_CACHE_HOME"] == str(tmp_path / "ns" / "claims" / "job-output" / "job" / "cache")


def test_a_missing_secret_or_config_map_is_named(tmp_path: Path) -> None:
    node = LocalNode(tmp_path, "ns", {}, {})
    pod = _pod(["true"], envFrom=[{"secretRef": {"name": "creds"}}])
    mapping, _ = node.mounts(pod)
    with pytest.raises(LocalRunError, match="Secret creds not found"):
        node.environment(pod, mapping, port=None)
    bare = LocalPod("p", "Dataset/d", pod.spec, {})
    with pytest.raises(LocalRunError, match="ConfigMap job-config not found: .*--config-map job-config=PATH"):
        node.mounts(bare)


def test_a_failed_pod_is_an_error_pointing_at_its_log(tmp_path: Path) -> None:
    node = LocalNode(tmp_path, "ns", {}, {})
    with pytest.raises(LocalRunError, match=r"pod job-a1-0 failed \(exit code 3\); its log: .*job-a1-0/log"):
        node.run(_pod([sys.executable, "-c", "print('bad row'); raise SystemExit(3)"]))
    assert (tmp_path / "ns" / "pods" / "job-a1-0" / "log").read_text() == "bad row\n"
