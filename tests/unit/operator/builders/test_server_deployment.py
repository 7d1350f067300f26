"""The server Deployment: rollout, probes, devices per vendor, mounts, security, placement."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.builders.server_deployment import (
    REVISION_ANNOTATION,
    engine_image,
    server_deployment,
)
from kubefactory.operator.settings import OperatorSettings
from kubefactory.runtime.serve.settings import ApiSettings

LORA = (("identity", "pvc://identity-lora-output/identity-lora"), ("faq", "pvc://adapters/faq"))


def build(
    make_serving: Any, settings: OperatorSettings, spec: dict[str, Any] | None = None, **kw: Any
) -> Any:
    inputs = make_serving(spec, **kw)
    image = engine_image(inputs, settings) or "image"
    return server_deployment(inputs, settings, image, "rev-1")


def pod_of(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def test_rolling_update_never_takes_a_ready_pod_away(make_serving: Any, settings: OperatorSettings) -> None:
    deployment = build(make_serving, settings, {"replicas": 3})
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "kubefactory.io/modelserver": "chat",
        "app.kubernetes.io/component": "server",
    }
    template = deployment["spec"]["template"]["metadata"]
    assert template["labels"].items() >= deployment["spec"]["selector"]["matchLabels"].items()
    assert template["annotations"][REVISION_ANNOTATION] == "rev-1"
    assert deployment["metadata"]["ownerReferences"][0]["kind"] == "ModelServer"


@pytest.mark.parametrize("engine", ["huggingface", "vllm", "sglang"])
def test_the_kubelet_waits_for_the_servers_drain_before_sigkill(
    make_serving: Any, settings: OperatorSettings, engine: str
) -> None:
    """Kubernetes' default grace is 30 s, the built-in server's drain too: SIGKILL would cut the
    answers the drain was letting finish. The drain's length is the runtime's own default."""
    grace = pod_of(build(make_serving, settings, {"engine": engine}))["terminationGracePeriodSeconds"]
    assert grace > ApiSettings().drain_timeout_s
    assert grace - ApiSettings().drain_timeout_s >= 10


def test_probes_wait_for_model_loading_then_watch_health(
    make_serving: Any, settings: OperatorSettings
) -> None:
    container = pod_of(build(make_serving, settings))["containers"][0]
    for name in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[name]["httpGet"] == {"path": "/health", "port": "http"}
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 3600  # an hour to download and load
    assert container["readinessProbe"]["periodSeconds"] <= 10
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("vendor", "count", "resource", "variables", "toleration"),
    [
        ("nvidia", 4, "nvidia.com/gpu", ["CUDA_VISIBLE_DEVICES"], "nvidia.com/gpu"),
        ("amd", 2, "amd.com/gpu", ["HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"], "amd.com/gpu"),
        ("ascend", 8, "huawei.com/Ascend910", ["ASCEND_RT_VISIBLE_DEVICES"], "huawei.com/Ascend910"),
        ("cpu", 1, None, [], None),
    ],
)
def test_devices_per_vendor(
    make_serving: Any,
    settings: OperatorSettings,
    vendor: str,
    count: int,
    resource: str | None,
    variables: list[str],
    toleration: str | None,
) -> None:
    spec = {"resources": {"accelerator": vendor, "accelerators": count, "cpu": 8, "memory": "64Gi"}}
    pod = pod_of(build(make_serving, settings, spec))
    container = pod["containers"][0]
    limits = container["resources"]["limits"]
    assert limits == container["resources"]["requests"]
    assert (limits["cpu"], limits["memory"]) == ("8", "64Gi")
    env = {item["name"]: item.get("value") for item in container["env"]}
    if resource:
        assert limits[resource] == str(count)
        devices = ",".join(str(i) for i in range(count))
        assert {name: env[name] for name in variables} == dict.fromkeys(variables, devices)
    else:
        assert set(limits) == {"cpu", "memory"}
    assert env["KUBEFACTORY_ACCELERATOR"] == vendor
    # the runtime images set their library paths (Ascend's CANN toolkit and driver); a pod value would replace them
    assert "LD_LIBRARY_PATH" not in env
    # only the vendor's own visibility variables are set (ROCm's HIP also honours CUDA_VISIBLE_DEVICES)
    assert ("CUDA_VISIBLE_DEVICES" in env) == (vendor == "nvidia")
    keys = [t.get("key") for t in pod["tolerations"]]
    assert "kwok.x-k8s.io/node" in keys  # the operator's default toleration
    if toleration:
        assert toleration in keys
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert ("/usr/local/Ascend/driver" in mounted) == (vendor == "ascend")
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "32Gi"}


def test_claims_are_mounted_read_only_once_each(make_serving: Any, settings: OperatorSettings) -> None:
    pod = pod_of(build(make_serving, settings, model_uri="pvc://identity-lora-output/base", adapters=LORA))
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    claims = {
        v["persistentVolumeClaim"]["claimName"]: v for v in pod["volumes"] if "persistentVolumeClaim" in v
    }
    assert sorted(claims) == ["adapters", "identity-lora-output"]
    assert all(v["persistentVolumeClaim"]["readOnly"] for v in claims.values())
    for claim in claims:
        assert mounts[f"/kubefactory/claims/{claim}"]["readOnly"] is True


@pytest.mark.parametrize(("engine", "config"), [("huggingface", True), ("vllm", False), ("sglang", False)])
def test_only_the_builtin_engine_mounts_its_config(
    make_serving: Any, settings: OperatorSettings, engine: str, config: bool
) -> None:
    pod = pod_of(build(make_serving, settings, {"engine": engine}))
    mounted = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert ("/kubefactory/config" in mounted) == config
    if config:
        volume = next(v for v in pod["volumes"] if v["name"] == "config")
        assert volume["configMap"]["name"] == "chat-serve"


def test_non_root_with_a_read_only_root_and_writable_home(
    make_serving: Any, settings: OperatorSettings
) -> None:
    pod = pod_of(build(make_serving, settings))
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    container = pod["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    env = {item["name"]: item.get("value") for item in container["env"]}
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert env["HOME"] in mounted  # /tmp
    assert env["HF_HOME"].startswith(env["XDG_CACHE_HOME"]) and env["XDG_CACHE_HOME"] in mounted


@pytest.mark.parametrize(
    ("engine", "vendor", "spec_image", "settings_images", "expected"),
    [
        ("huggingface", "cpu", None, {}, "ghcr.io/kubefactory/runtime-cpu:"),
        ("huggingface", "nvidia", None, {}, "ghcr.io/kubefactory/runtime-cuda:"),
        ("vllm", "nvidia", None, {}, "vllm/vllm-openai:"),
        ("vllm", "nvidia", None, {"vllm": {"nvidia": "mirror/vllm:v1"}}, "mirror/vllm:v1"),
        ("sglang", "ascend", None, {}, None),
        ("sglang", "ascend", "mine/sglang:npu", {}, "mine/sglang:npu"),
    ],
)
def test_engine_image(
    make_serving: Any,
    engine: str,
    vendor: str,
    spec_image: str | None,
    settings_images: dict[str, Any],
    expected: str | None,
) -> None:
    settings = OperatorSettings.model_validate({"engineImages": settings_images})
    image = engine_image(
        make_serving({"engine": engine, "image": spec_image, "resources": {"accelerator": vendor}}), settings
    )
    if expected is None:
        assert image is None
    else:
        assert image is not None and image.startswith(expected)


def test_scheduling_of_the_spec_is_added(make_serving: Any, settings: OperatorSettings) -> None:
    spec = {
        "scheduling": {
            "nodeSelector": {"pool": "serving"},
            "priorityClassName": "high",
            "tolerations": [{"key": "dedicated", "operator": "Exists"}],
        }
    }
    pod = pod_of(build(make_serving, settings, spec))
    assert pod["nodeSelector"] == {"pool": "serving"} and pod["priorityClassName"] == "high"
    assert {"key": "dedicated", "operator": "Exists"} in pod["tolerations"]
