"""The training pod, vendor by vendor: resources, torchrun environment, devices, mounts, placement."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.builders.trainer_pod import shared_memory, trainer_pod_template
from kubefactory.operator.settings import OperatorSettings

COMPLETION_INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']"

# vendor, (resource, count), visible-devices variables, backend, image, driver mount
VENDORS = [
    ("nvidia", ("nvidia.com/gpu", "8"), ["CUDA_VISIBLE_DEVICES"], "nccl", "runtime-cuda", None),
    ("amd", ("amd.com/gpu", "8"), ["HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"], "nccl", "runtime-rocm", None),
    ("ascend", ("huawei.com/Ascend910", "8"), ["ASCEND_RT_VISIBLE_DEVICES"], "hccl", "runtime-ascend", "/usr/local/Ascend/driver"),
    ("cpu", None, [], "gloo", "runtime-cpu", None),
]  # fmt: skip


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


@pytest.mark.parametrize(("vendor", "resource", "visible", "backend", "image", "mount"), VENDORS)
def test_vendor_profile_reaches_the_pod(
    make_inputs: Any,
    settings: OperatorSettings,
    vendor: str,
    resource: tuple[str, str] | None,
    visible: list[str],
    backend: str,
    image: str,
    mount: str | None,
) -> None:
    inputs = make_inputs({"resources": {"accelerator": vendor, "acceleratorsPerNode": 8, "nodes": 2}})
    pod = trainer_pod_template(inputs, settings)["spec"]
    container = pod["containers"][0]
    env = env_of(container)
    limits = container.get("resources", {}).get("limits", {})
    assert (tuple(next(iter(limits.items()))) if limits else None) == resource
    assert container.get("resources", {}).get("requests") == (limits or None)
    for name in visible:
        assert env[name] == "0,1,2,3,4,5,6,7"
    assert env["KUBEFACTORY_DISTRIBUTED_BACKEND"] == backend
    # the runtime images set their library paths (Ascend's CANN toolkit and driver); a pod value would replace them
    assert "LD_LIBRARY_PATH" not in env
    # only the vendor's own visibility variables are set (ROCm's HIP also honours CUDA_VISIBLE_DEVICES)
    assert ("CUDA_VISIBLE_DEVICES" in env) == (vendor == "nvidia")
    assert f"/{image}:" in container["image"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    host_paths = {v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert (mount in mounts and mount in host_paths) if mount else not host_paths


def test_torchrun_environment_in_both_spellings(make_inputs: Any, settings: OperatorSettings) -> None:
    inputs = make_inputs(
        {"resources": {"nodes": 4, "acceleratorsPerNode": 8}, "distributed": {"masterPort": 23456}}, attempt=3
    )
    env = env_of(trainer_pod_template(inputs, settings)["spec"]["containers"][0])
    expected = {
        "MASTER_ADDR": "sft-a3-0.sft-workers.team-a.svc",
        "MASTER_PORT": "23456",
        "NNODES": "4",
        "NPROC_PER_NODE": "8",
    }
    for name, value in expected.items():
        assert env[name] == value and env[f"PET_{name}"] == value
    assert env["WORLD_SIZE"] == "32"
    assert env["NODE_RANK"] == env["PET_NODE_RANK"] == {"fieldRef": {"fieldPath": COMPLETION_INDEX}}
    assert env["KUBEFACTORY_ATTEMPT"] == "3"
    assert env["KUBEFACTORY_PROGRESS_CONFIGMAP"] == "sft-progress"


def test_pod_identity_command_and_mounts(make_inputs: Any, settings: OperatorSettings) -> None:
    inputs = make_inputs({"model": "pvc://models/qwen"})
    template = trainer_pod_template(inputs, settings)
    pod = template["spec"]
    container = pod["containers"][0]
    assert template["metadata"]["labels"]["kubefactory.io/attempt"] == "1"
    assert pod["subdomain"] == "sft-workers"  # hostname "<job>-<index>" is resolvable through it
    assert pod["serviceAccountName"] == "sft-trainer"
    assert pod["restartPolicy"] == "Never"
    assert container["command"][:2] == ["kubefactory", "report-progress"]
    assert container["command"][-5:] == [
        "torchrun",
        "--module",
        "kubefactory.runtime.cli",
        "train",
        "/kubefactory/config/config.yaml",
    ]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["output"] == {"name": "output", "mountPath": "/kubefactory/output", "subPath": "sft"}
    assert (
        mounts["config"]["readOnly"]
        and mounts["dataset-identity"]["readOnly"]
        and mounts["model"]["readOnly"]
    )
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["dataset-identity"]["persistentVolumeClaim"] == {
        "claimName": "identity-data",
        "readOnly": True,
    }
    assert volumes["model"]["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    assert volumes["output"]["persistentVolumeClaim"] == {"claimName": "sft-output"}
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


@pytest.mark.parametrize(
    ("resources", "shm"),
    [({"sharedMemory": "64Gi", "memory": "512Gi"}, "64Gi"), ({"memory": "512Gi"}, "256Gi"), ({}, "8Gi")],
)
def test_shared_memory(
    make_inputs: Any, settings: OperatorSettings, resources: dict[str, Any], shm: str
) -> None:
    assert shared_memory(make_inputs({"resources": resources}), settings) == shm


def test_placement_merges_profile_operator_and_spec(make_inputs: Any) -> None:
    settings = OperatorSettings.model_validate(
        {
            "defaultTolerations": [
                {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
            ],
            "nodeSelectors": {"nvidia": {"pool": "gpu"}},
        }
    )
    spec = {
        "scheduling": {
            "priorityClassName": "training",
            "nodeSelector": {"zone": "a"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                {"key": "team", "value": "a"},
            ],
        }
    }
    pod = trainer_pod_template(make_inputs(spec), settings)["spec"]
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},  # the profile's, once
        {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "team", "operator": "Equal", "value": "a"},
    ]
    assert pod["nodeSelector"] == {"pool": "gpu", "zone": "a"}
    assert pod["priorityClassName"] == "training"
    assert "schedulerName" not in pod


def test_affinity_is_passed_through_as_written(make_inputs: Any, settings: OperatorSettings) -> None:
    affinity = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"team": "a"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    pod = trainer_pod_template(make_inputs({"scheduling": {"affinity": affinity}}), settings)["spec"]
    assert pod["affinity"] == affinity
    assert "affinity" not in trainer_pod_template(make_inputs({}), settings)["spec"]


def test_gang_scheduling_names_the_scheduler_and_group(make_inputs: Any, settings: OperatorSettings) -> None:
    template = trainer_pod_template(
        make_inputs({"scheduling": {"gang": {"queue": "npu"}}}, attempt=2), settings
    )
    assert template["spec"]["schedulerName"] == "volcano"
    assert template["metadata"]["annotations"]["scheduling.k8s.io/group-name"] == "sft-a2"


def test_image_from_spec_then_settings(make_inputs: Any) -> None:
    settings = OperatorSettings.model_validate({"images": {"nvidia": "registry.local/cuda:1"}})
    assert (
        trainer_pod_template(make_inputs(), settings)["spec"]["containers"][0]["image"]
        == "registry.local/cuda:1"
    )
    own = make_inputs({"image": "me/trainer:2"})
    assert trainer_pod_template(own, settings)["spec"]["containers"][0]["image"] == "me/trainer:2"
