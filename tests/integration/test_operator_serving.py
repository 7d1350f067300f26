"""ModelServers on the local control plane: each engine on its accelerator, waiting for a FineTuneJob,
merging first, rolling to a new spec without a gap, scaling, and deleting every child."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_operator_support import (
    ACCELERATOR_LABEL,
    OUTCOME,
    Volumes,
    Waiter,
    annotate,
    condition,
    create,
    events,
    finetunejob_manifest,
    get_json,
    items,
    ready_dataset,
    status,
)

SERVER = "app.kubernetes.io/component=server"
RESOURCES = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "ascend": "huawei.com/Ascend910"}


def modelserver(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubefactory.io/v1alpha1",
        "kind": "ModelServer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def server_pods(cluster: Any, namespace: str, name: str) -> list[dict[str, Any]]:
    selector = f"kubefactory.io/modelserver={name},{SERVER}"
    return [
        p for p in items(cluster, "pods", namespace, selector) if not p["metadata"].get("deletionTimestamp")
    ]


def children(cluster: Any, namespace: str, name: str) -> dict[str, list[str]]:
    kinds = "deployments,services,configmaps,jobs,persistentvolumeclaims,horizontalpodautoscalers,poddisruptionbudgets"
    listed = get_json(cluster, kinds, "-n", namespace, "-l", f"kubefactory.io/modelserver={name}")
    out: dict[str, list[str]] = {}
    for item in listed["items"]:
        if not item["metadata"].get("deletionTimestamp"):
            out.setdefault(item["kind"], []).append(item["metadata"]["name"])
    return {kind: sorted(names) for kind, names in out.items()}


def succeeded_finetunejob(
    cluster: Any, wait: Waiter, volumes: Volumes, tmp_path: Path, name: str
) -> dict[str, Any]:
    """A FineTuneJob on one CPU node whose pod ends well: Succeeded, with its output location."""
    start_finetunejob(cluster, wait, volumes, tmp_path, name)
    finish_finetunejob(cluster, wait, name)
    return wait.phase("finetunejob", name, "Succeeded")


def start_finetunejob(cluster: Any, wait: Waiter, volumes: Volumes, tmp_path: Path, name: str) -> None:
    ready_dataset(cluster, wait, volumes, tmp_path)
    volumes.provide(wait.namespace, f"{name}-output")
    resources = {"accelerator": "cpu", "nodes": 1}
    create(cluster, finetunejob_manifest(name, wait.namespace, resources=resources))
    wait.pods(f"kubefactory.io/finetunejob={name}", 1)


def finish_finetunejob(cluster: Any, wait: Waiter, name: str) -> None:
    for pod in wait.pods(f"kubefactory.io/finetunejob={name}", 1):
        annotate(cluster, wait.namespace, pod["metadata"]["name"], {OUTCOME: "succeed"})


def deployment(cluster: Any, namespace: str, name: str) -> dict[str, Any]:
    return get_json(cluster, "deployment", name, "-n", namespace)


def container(found: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = found["spec"]["template"]["spec"]["containers"][0]
    return result


ENGINES = [
    # (engine, vendor, accelerators, image, the command's head, the flag carrying the tensor-parallel size)
    ("vllm", "nvidia", 2, None, ["vllm", "serve", "Qwen/Qwen2.5-0.5B"], "--tensor-parallel-size"),
    ("sglang", "amd", 4, "lmsysorg/sglang:rocm", ["python3", "-m", "sglang.launch_server"], "--tp-size"),
    ("vllm", "ascend", 1, "quay.io/ascend/vllm-ascend:v0.9.1", ["vllm", "serve", "Qwen/Qwen2.5-0.5B"],
     "--tensor-parallel-size"),
    ("huggingface", "cpu", 1, None, ["kubefactory", "api", "/kubefactory/config/serve.yaml"], None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("engine", "vendor", "accelerators", "image", "head", "tp_flag"),
    ENGINES,
    ids=[f"{e[0]}-{e[1]}" for e in ENGINES],
)
def test_each_engine_serves_on_its_accelerator(
    control_plane: Any,
    wait: Waiter,
    namespace: str,
    engine: str,
    vendor: str,
    accelerators: int,
    image: str | None,
    head: list[str],
    tp_flag: str | None,
) -> None:
    spec: dict[str, Any] = {
        "model": "hf://Qwen/Qwen2.5-0.5B",
        "engine": engine,
        "resources": {"accelerator": vendor, "accelerators": accelerators},
    }
    if image:
        spec["image"] = image
    create(control_plane, modelserver("chat", namespace, **spec))
    ready = wait.phase("modelserver", "chat", "Ready")

    assert ready["url"] == f"http://chat.{namespace}.svc:8000/v1"
    assert (ready["replicas"], ready["readyReplicas"], ready["servedModels"]) == (1, 1, ["chat"])
    assert condition(ready, "Available")["status"] == "True"
    assert condition(ready, "ModelReady")["reason"] == "Resolved"
    server = container(deployment(control_plane, namespace, "chat"))
    assert server["command"][: len(head)] == head
    if tp_flag:
        assert server["command"][server["command"].index(tp_flag) + 1] == str(accelerators)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert (server[probe]["httpGet"]["path"], server[probe]["httpGet"]["port"]) == ("/health", "http")
    (pod,) = server_pods(control_plane, namespace, "chat")
    node = get_json(control_plane, "node", pod["spec"]["nodeName"])
    assert node["metadata"]["labels"][ACCELERATOR_LABEL] == vendor
    if vendor in RESOURCES:
        assert pod["spec"]["containers"][0]["resources"]["limits"][RESOURCES[vendor]] == str(accelerators)
    service = get_json(control_plane, "service", "chat", "-n", namespace)["spec"]
    assert service["ports"][0]["port"] == 8000 and service["selector"]["kubefactory.io/modelserver"] == "chat"
    table = control_plane.kubectl("get", "modelserver", "chat", "-n", namespace).stdout.splitlines()
    assert table[1].split()[:5] == ["chat", engine, "1", "1", ready["url"]], table


def test_an_engine_without_an_image_says_so(control_plane: Any, wait: Waiter, namespace: str) -> None:
    spec = {"model": "hf://Qwen/Qwen2.5-0.5B", "engine": "sglang", "resources": {"accelerator": "ascend"}}
    create(control_plane, modelserver("chat", namespace, **spec))
    failed = wait.phase("modelserver", "chat", "Failed")
    assert condition(failed, "ModelReady")["reason"] == "NoImage"
    assert "spec.image" in condition(failed, "ModelReady")["message"]
    assert children(control_plane, namespace, "chat") == {}


def test_waits_for_a_running_finetunejob_then_serves_its_adapter(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    start_finetunejob(control_plane, wait, volumes, tmp_path, "identity-lora")
    spec = {"fineTuneJob": {"name": "identity-lora"}, "resources": {"accelerator": "cpu", "cpu": 1}}
    create(control_plane, modelserver("identity", namespace, **spec))
    waiting = wait.until(
        "the ModelServer to wait for its FineTuneJob",
        lambda: (
            found
            if condition(
                found := status(control_plane, namespace, "modelserver", "identity"), "ModelReady"
            ).get("reason")
            == "WaitingForFineTuneJob"
            else None
        ),
    )
    assert waiting["phase"] == "Pending"
    assert "identity-lora" in condition(waiting, "ModelReady")["message"]
    assert "Deployment" not in children(control_plane, namespace, "identity")

    finish_finetunejob(control_plane, wait, "identity-lora")
    ready = wait.phase("modelserver", "identity", "Ready")
    assert ready["servedModels"] == ["identity-base", "identity"]
    spec_ = deployment(control_plane, namespace, "identity")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in spec_["containers"][0]["volumeMounts"]}
    assert mounts["/kubefactory/claims/identity-lora-output"]["readOnly"] is True
    served = get_json(control_plane, "configmap", "identity-serve", "-n", namespace)["data"]["serve.yaml"]
    assert "identity=/kubefactory/claims/identity-lora-output/identity-lora" in served
    assert "template: qwen" in served
    reasons = [reason for reason, _ in events(control_plane, namespace, "identity")]
    assert {"Pending", "Deploying", "Ready"} <= set(reasons), reasons

    control_plane.kubectl("delete", "modelserver", "identity", "-n", namespace, "--wait=true")
    wait.until(
        "every child of the ModelServer to go", lambda: children(control_plane, namespace, "identity") == {}
    )


def test_merge_runs_first_then_two_adapters_are_served(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    succeeded_finetunejob(control_plane, wait, volumes, tmp_path, "identity-lora")
    volumes.provide(namespace, "support-merged")
    spec = {
        "fineTuneJob": {"name": "identity-lora"},
        "merge": True,
        "servedModelName": "support",
        "adapters": [
            {"name": "faq", "fineTuneJob": {"name": "identity-lora"}},
            {"name": "sql", "uri": "pvc://identity-lora-output/sql"},
        ],
        "resources": {"accelerator": "cpu"},
    }
    create(control_plane, modelserver("support", namespace, **spec))
    merging = wait.phase("modelserver", "support", "Merging")
    assert condition(merging, "ModelReady")["reason"] == "Merging"
    (job,) = items(control_plane, "jobs", namespace, "app.kubernetes.io/component=model-merge")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "kubefactory", "export", "/kubefactory/config/merge.yaml",
    ]  # fmt: skip
    assert "Deployment" not in children(control_plane, namespace, "support")

    (pod,) = wait.pods("app.kubernetes.io/component=model-merge", 1)
    annotate(control_plane, namespace, pod["metadata"]["name"], {OUTCOME: "succeed"})
    ready = wait.phase("modelserver", "support", "Ready")
    assert ready["servedModels"] == ["support", "faq", "sql"]
    served = get_json(control_plane, "configmap", "support-serve", "-n", namespace)["data"]["serve.yaml"]
    digest = job["metadata"]["annotations"]["kubefactory.io/merge-digest"]
    assert f"model_name_or_path: /kubefactory/claims/support-merged/{digest}" in served
    assert "MergeJobCreated" in [reason for reason, _ in events(control_plane, namespace, "support")]


def test_a_spec_change_rolls_with_a_ready_pod_at_every_moment_and_scale_works(
    control_plane: Any, wait: Waiter, namespace: str
) -> None:
    spec = {"model": "hf://Qwen/Qwen2.5-0.5B", "replicas": 2, "resources": {"accelerator": "cpu"}}
    create(control_plane, modelserver("chat", namespace, **spec))
    wait.phase("modelserver", "chat", "Ready")
    assert "PodDisruptionBudget" in children(control_plane, namespace, "chat")
    before = deployment(control_plane, namespace, "chat")["spec"]["template"]["metadata"]["annotations"]

    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            found = deployment(control_plane, namespace, "chat").get("status") or {}
            samples.append(int(found.get("availableReplicas") or 0))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        patch = {"spec": {"engineArgs": ["max_new_tokens=64"]}}
        control_plane.kubectl(
            "patch", "modelserver", "chat", "-n", namespace, "--type=merge", "-p", json.dumps(patch)
        )
        wait.until(
            "the rollout to start",
            lambda: (
                deployment(control_plane, namespace, "chat")["spec"]["template"]["metadata"]["annotations"]
                != before
                or container(deployment(control_plane, namespace, "chat"))["command"][-1]
                == "max_new_tokens=64"
            ),
        )
        wait.until(
            "the rollout to finish",
            lambda: (
                (found := status(control_plane, namespace, "modelserver", "chat")).get("phase") == "Ready"
                and found.get("observedGeneration") == 2
            ),
        )
        # kwok rolls two pods in about a second, a few samples' time: keep sampling the settled
        # Deployment a little longer so the check below never rests on one or two readings
        wait.until("a few more samples", lambda: len(samples) > 5)
    finally:
        stop.set()
        sampler.join(10)
    assert len(samples) > 5 and min(samples) >= 1, samples
    pods = server_pods(control_plane, namespace, "chat")
    assert all(p["spec"]["containers"][0]["command"][-1] == "max_new_tokens=64" for p in pods)

    control_plane.kubectl("scale", "modelserver", "chat", "-n", namespace, "--replicas=3")
    wait.until(
        "three ready replicas",
        lambda: status(control_plane, namespace, "modelserver", "chat").get("readyReplicas") == 3,
    )
    assert deployment(control_plane, namespace, "chat")["spec"]["replicas"] == 3


def test_the_autoscaler_scales_the_modelserver_within_its_bounds(
    control_plane: Any, wait: Waiter, namespace: str
) -> None:
    spec = {
        "model": "hf://Qwen/Qwen2.5-0.5B",
        "autoscaling": {"minReplicas": 2, "maxReplicas": 4, "targetCPUUtilizationPercent": 70},
        "resources": {"accelerator": "cpu", "cpu": 1},
    }
    create(control_plane, modelserver("chat", namespace, **spec))
    hpa = wait.until(
        "the HorizontalPodAutoscaler",
        lambda: next(iter(items(control_plane, "horizontalpodautoscalers", namespace)), None),
    )
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "kubefactory.io/v1alpha1", "kind": "ModelServer", "name": "chat",
    }  # fmt: skip
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    # below its minimum, the autoscaler raises spec.replicas through the scale subresource
    wait.until(
        "the autoscaler to hold the minimum",
        lambda: (
            get_json(control_plane, "modelserver", "chat", "-n", namespace)["spec"].get("replicas") == 2
            and status(control_plane, namespace, "modelserver", "chat").get("readyReplicas") == 2
        ),
        timeout=120,
    )
