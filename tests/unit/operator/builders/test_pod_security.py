"""Every pod the operator creates runs with the least privilege that works (docs/operations.md).

Non-root with a RuntimeDefault seccomp profile; no privilege escalation and no capabilities; no
privileged or host namespaces; no API token unless the pod calls the API server (only the
trainer, whose report-progress patches its own progress ConfigMap); host paths only for Ascend's
driver files, read-only. Add each new pod builder to POD_TEMPLATES.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubefactory.operator.api.dataset import DatasetSpec
from kubefactory.operator.builders.merge_job import merge_job
from kubefactory.operator.builders.prepare_job import prepare_job_manifest
from kubefactory.operator.builders.server_deployment import server_deployment
from kubefactory.operator.builders.serving_inputs import MergeInputs
from kubefactory.operator.builders.trainer_pod import trainer_pod_template
from kubefactory.operator.naming import Owner
from kubefactory.operator.profiles import PROFILES
from kubefactory.operator.settings import OperatorSettings

DATASET = Owner("Dataset", "identity", "team-a", "uid-d")


def trainer(vendor: str) -> Callable[[Any, OperatorSettings], dict[str, Any]]:
    def build(make_inputs: Any, settings: OperatorSettings) -> dict[str, Any]:
        resources = {"accelerator": vendor, "acceleratorsPerNode": 1 if vendor == "cpu" else 8, "nodes": 2}
        return trainer_pod_template(make_inputs({"resources": resources}), settings)

    return build


def prepare(source: dict[str, Any]) -> Callable[[Any, OperatorSettings], dict[str, Any]]:
    def build(make_inputs: Any, settings: OperatorSettings) -> dict[str, Any]:
        template: dict[str, Any] = prepare_job_manifest(
            DATASET, DatasetSpec.model_validate({"source": source}), settings
        )["spec"]["template"]
        return template

    return build


# name → (builder, needs an API token, may mount host paths)
POD_TEMPLATES: dict[str, tuple[Callable[[Any, OperatorSettings], dict[str, Any]], bool, bool]] = {
    **{f"trainer-{vendor}": (trainer(vendor), True, vendor == "ascend") for vendor in PROFILES},
    "prepare-configmap": (prepare({"configMap": {"name": "rows"}}), False, False),
    "prepare-uri": (prepare({"uri": "hf://org/data", "secretRef": {"name": "hf"}}), False, False),
}


@pytest.mark.parametrize("name", list(POD_TEMPLATES))
def test_least_privilege(name: str, make_inputs: Any, settings: OperatorSettings) -> None:
    build, needs_token, host_paths = POD_TEMPLATES[name]
    assert_least_privilege(build(make_inputs, settings)["spec"], needs_token, host_paths)


@pytest.mark.parametrize("vendor", list(PROFILES))
@pytest.mark.parametrize("merge", [False, True])
def test_serving_pods_are_least_privileged(
    vendor: str, merge: bool, make_serving: Any, settings: OperatorSettings
) -> None:
    """The server Deployment's pods and the merge Job's: no token, no escalation; host paths only for
    Ascend's driver, read-only."""
    spec: dict[str, Any] = {"resources": {"accelerator": vendor}}
    extra: dict[str, Any] = {}
    if merge:
        spec.update({"fineTuneJob": {"name": "identity-lora"}, "model": None, "merge": True})
        base, adapter = "hf://Qwen/Qwen2.5-0.5B", "pvc://identity-lora-output/identity-lora"
        extra = {"merge": MergeInputs(base, adapter, "0123456789abcdef"), "template": "qwen"}
    inputs = make_serving(spec, **extra)
    pod = server_deployment(inputs, settings, "image", "rev-1")["spec"]["template"]["spec"]
    assert_least_privilege(pod, needs_token=False, host_paths=vendor == "ascend")
    if merge:
        assert_least_privilege(merge_job(inputs, settings)["spec"]["template"]["spec"], False, False)


def assert_least_privilege(pod: dict[str, Any], needs_token: bool, host_paths: bool) -> None:
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] >= 1
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is needs_token
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(flag), flag
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert not context.get("privileged")
        assert "runAsUser" not in context or context["runAsUser"] >= 1
    host = {volume["name"] for volume in pod["volumes"] if "hostPath" in volume}
    assert bool(host) is host_paths
    for container in pod["containers"]:
        for mount in container.get("volumeMounts", []):
            if mount["name"] in host:
                assert mount["readOnly"] is True, mount


def test_only_the_trainer_account_gets_a_token_and_its_role_is_one_configmap(
    make_inputs: Any, settings: OperatorSettings
) -> None:
    from kubefactory.operator.builders.progress_access import trainer_role

    inputs = make_inputs()
    pod = trainer_pod_template(inputs, settings)["spec"]
    assert pod["serviceAccountName"] == inputs.names.trainer
    (rule,) = trainer_role(inputs)["rules"]
    assert rule["resources"] == ["configmaps"] and rule["resourceNames"] == [inputs.names.progress]
    assert set(rule["verbs"]) == {"get", "patch", "update"}
