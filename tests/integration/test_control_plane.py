"""The local control plane itself: fake accelerator nodes, scheduling, and pods that finish on cue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

KWOK_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
ACCELERATOR_LABEL = "kubefactory.io/accelerator"
OUTCOME = "kubefactory.io/kwok-outcome"
TIMEOUT = 60.0


def wait_for(description: str, probe: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``description`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {description}")
        time.sleep(0.3)


def get_json(cluster: Any, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)
    return data


def conditions(cluster: Any, *args: str) -> list[dict[str, Any]]:
    """``.status.conditions`` of one object (``[]`` when it has none yet)."""
    found: list[dict[str, Any]] = get_json(cluster, *args).get("status", {}).get("conditions", [])
    return found


def create(cluster: Any, manifest: dict[str, Any]) -> None:
    cluster.kubectl("create", "-f", "-", input=json.dumps(manifest))


def pod_spec(resources: dict[str, str], container: str = "trainer") -> dict[str, Any]:
    return {
        "restartPolicy": "Never",
        "tolerations": [KWOK_TOLERATION],
        "containers": [
            {
                "name": container,
                "image": "registry.invalid/kubefactory/fake:latest",
                "resources": {"requests": resources, "limits": resources},
            }
        ],
    }


def pod_manifest(
    name: str, namespace: str, resources: dict[str, str], annotations: dict[str, str]
) -> dict[str, Any]:
    metadata = {"name": name, "namespace": namespace, "annotations": annotations}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec(resources)}


def node_vendor(cluster: Any, node_name: str) -> str:
    return str(get_json(cluster, "node", node_name)["metadata"]["labels"][ACCELERATOR_LABEL])


def pod_in_phase(cluster: Any, namespace: str, name: str, phase: str) -> dict[str, Any] | None:
    pod = get_json(cluster, "pod", name, "-n", namespace)
    return pod if pod.get("status", {}).get("phase") == phase else None


def wait_for_phase(cluster: Any, namespace: str, name: str, phase: str) -> dict[str, Any]:
    """Wait until the pod reaches ``phase``; on timeout, say where it is instead."""
    try:
        return wait_for(f"pod {name} to be {phase}", lambda: pod_in_phase(cluster, namespace, name, phase))
    except AssertionError as error:
        status = get_json(cluster, "pod", name, "-n", namespace).get("status", {})
        raise AssertionError(f"{error}; it is {status.get('phase')}: {json.dumps(status)}") from None


def terminated_state(pod: dict[str, Any]) -> dict[str, Any]:
    statuses = pod["status"].get("containerStatuses", [])
    assert len(statuses) == 1, f"expected one container status, got {statuses}"
    terminated: dict[str, Any] = statuses[0]["state"].get("terminated", {})
    assert terminated, f"container is not terminated: {statuses[0]['state']}"
    return terminated


def test_fake_nodes_advertise_accelerators(control_plane: Any) -> None:
    nodes = get_json(control_plane, "nodes", "-l", "type=kwok")["items"]
    by_vendor: dict[str, list[dict[str, Any]]] = {}
    for node in nodes:
        by_vendor.setdefault(node["metadata"]["labels"][ACCELERATOR_LABEL], []).append(node)
    assert {vendor: len(items) for vendor, items in by_vendor.items()} == {
        "nvidia": 4,
        "amd": 2,
        "ascend": 2,
        "cpu": 2,
    }, f"unexpected fake node pools: {sorted(node['metadata']['name'] for node in nodes)}"
    expected = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "ascend": "huawei.com/Ascend910"}
    for vendor, items in by_vendor.items():
        for node in items:
            name, capacity = node["metadata"]["name"], node["status"]["capacity"]
            if vendor in expected:
                assert capacity.get(expected[vendor]) == "8", f"{name}: capacity {capacity}"
                assert node["status"]["allocatable"].get(expected[vendor]) == "8", f"{name}: allocatable"
            else:
                assert not set(capacity) & set(expected.values()), (
                    f"CPU node {name} has accelerators: {capacity}"
                )
            assert {"cpu", "memory", "pods"} <= set(capacity), f"{name}: capacity {capacity}"
            ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
            assert ready and ready[0]["status"] == "True", (
                f"{name} is not Ready: {node['status']['conditions']}"
            )
            assert any(t["key"] == "kwok.x-k8s.io/node" for t in node["spec"].get("taints", [])), (
                f"{name}: no kwok taint"
            )


def test_gpu_job_runs_then_succeeds_on_cue(control_plane: Any, namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train", "namespace": namespace},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": pod_spec({"nvidia.com/gpu": "8", "cpu": "8", "memory": "64Gi"})},
        },
    }
    create(control_plane, job)

    def running_pod() -> dict[str, Any] | None:
        pods = get_json(control_plane, "pods", "-n", namespace, "-l", "job-name=train")["items"]
        return next((pod for pod in pods if pod.get("status", {}).get("phase") == "Running"), None)

    pod = wait_for("the Job's pod to be Running", running_pod)
    name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
    assert node_vendor(control_plane, node) == "nvidia", f"pod {name} was scheduled onto {node}"

    time.sleep(3)  # without the outcome annotation the pod must stay Running (no default pod-complete)
    assert pod_in_phase(control_plane, namespace, name, "Running"), "pod finished without being told to"

    control_plane.kubectl("annotate", "pod", name, "-n", namespace, f"{OUTCOME}=succeed")
    terminated = terminated_state(wait_for_phase(control_plane, namespace, name, "Succeeded"))
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed"), terminated

    def job_complete() -> bool:
        job_conditions = conditions(control_plane, "job", "train", "-n", namespace)
        return any(c["type"] == "Complete" and c["status"] == "True" for c in job_conditions)

    wait_for("the Job to be Complete", job_complete)


def test_pod_fails_on_cue_with_exit_code_and_message(control_plane: Any, namespace: str) -> None:
    annotations = {
        OUTCOME: "fail",
        "kubefactory.io/kwok-exit-code": "137",
        "kubefactory.io/kwok-reason": "OOMKilled",
        "kubefactory.io/kwok-termination-message": 'step 12: CUDA error: "out of memory"\nexiting',
    }
    create(control_plane, pod_manifest("crash", namespace, {"nvidia.com/gpu": "1"}, annotations))
    pod = wait_for_phase(control_plane, namespace, "crash", "Failed")
    terminated = terminated_state(pod)
    assert terminated["exitCode"] == 137, terminated
    assert terminated["reason"] == "OOMKilled", terminated
    assert terminated["message"] == annotations["kubefactory.io/kwok-termination-message"], terminated


def test_failure_defaults_to_exit_code_one(control_plane: Any, namespace: str) -> None:
    create(control_plane, pod_manifest("plain-fail", namespace, {"cpu": "1"}, {OUTCOME: "fail"}))
    pod = wait_for_phase(control_plane, namespace, "plain-fail", "Failed")
    terminated = terminated_state(pod)
    assert (terminated["exitCode"], terminated["reason"]) == (1, "Error"), terminated
    assert "message" not in terminated, terminated


def test_ascend_request_lands_on_an_ascend_node(control_plane: Any, namespace: str) -> None:
    create(control_plane, pod_manifest("npu", namespace, {"huawei.com/Ascend910": "8"}, {}))
    pod = wait_for_phase(control_plane, namespace, "npu", "Running")
    node = pod["spec"]["nodeName"]
    assert node_vendor(control_plane, node) == "ascend", f"Ascend pod was scheduled onto {node}"


def test_oversized_request_stays_pending(control_plane: Any, namespace: str) -> None:
    create(control_plane, pod_manifest("too-big", namespace, {"nvidia.com/gpu": "9"}, {}))

    def unschedulable() -> bool:
        pod_conditions = conditions(control_plane, "pod", "too-big", "-n", namespace)
        return any(c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable" for c in pod_conditions)

    wait_for("the scheduler to report the 9-GPU pod Unschedulable", unschedulable)


def test_operator_identity_has_no_rbac(control_plane: Any) -> None:
    whoami = control_plane.kubectl(
        "auth", "whoami", "-o", "json", kubeconfig=control_plane.operator_kubeconfig
    )
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "kubefactory-operator"
    denied = control_plane.kubectl(
        "get", "pods", "-A", kubeconfig=control_plane.operator_kubeconfig, check=False
    )
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower(), denied.stderr


def test_repo_crds_are_established_and_served(control_plane: Any, crds: list[str]) -> None:
    if not crds:
        pytest.skip("no CRD YAML under crds/")
    for name in crds:
        crd = get_json(control_plane, name)
        established = {c["type"]: c["status"] for c in crd["status"].get("conditions", [])}
        assert established.get("Established") == "True", f"{name}: {established}"
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        served = control_plane.kubectl("api-resources", f"--api-group={group}", "-o", "name").stdout.split()
        assert f"{plural}.{group}" in served, f"{plural}.{group} is not served: {served}"
