"""Service, autoscaler, disruption budget, ConfigMap, merged claim and merge Job of a ModelServer."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kubefactory.operator.builders.merge_job import DIGEST_ANNOTATION, merge_job
from kubefactory.operator.builders.serving_children import (
    autoscaler,
    config_files,
    disruption_budget,
    merged_claim,
    server_service,
)
from kubefactory.operator.builders.serving_inputs import MergeInputs
from kubefactory.operator.settings import OperatorSettings
from kubefactory.runtime.config import validate_config

MERGE = MergeInputs("hf://Qwen/Qwen2.5-0.5B", "pvc://identity-lora-output/identity-lora", "0123456789abcdef")


def test_service_selects_the_server_pods(make_serving: Any) -> None:
    inputs = make_serving()
    service = server_service(inputs)
    assert service["metadata"]["name"] == "chat"
    assert service["spec"]["selector"] == inputs.selector()
    assert service["spec"]["ports"][0] | {} == {
        "name": "http",
        "port": 8000,
        "targetPort": "http",
        "protocol": "TCP",
        "appProtocol": "http",
    }
    assert inputs.url == "http://chat.team-a.svc:8000/v1"


@pytest.mark.parametrize(
    ("engine", "scaling", "metrics"),
    [
        ("vllm", {"maxReplicas": 4}, [("Resource", "cpu", {"type": "Utilization", "averageUtilization": 80})]),
        ("vllm", {"maxReplicas": 4, "targetCPUUtilizationPercent": 60},
         [("Resource", "cpu", {"type": "Utilization", "averageUtilization": 60})]),
        ("vllm", {"maxReplicas": 4, "targetRequestsPerReplica": 32},
         [("Pods", "vllm:num_requests_running", {"type": "AverageValue", "averageValue": "32"})]),
        ("sglang", {"maxReplicas": 4, "targetRequestsPerReplica": 8},
         [("Pods", "sglang:num_running_reqs", {"type": "AverageValue", "averageValue": "8"})]),
        ("huggingface", {"maxReplicas": 4, "targetRequestsPerReplica": 2, "targetCPUUtilizationPercent": 90},
         [("Resource", "cpu", {"type": "Utilization", "averageUtilization": 90}),
          ("Pods", "kubefactory_requests_in_flight", {"type": "AverageValue", "averageValue": "2"})]),
    ],
    ids=["default-cpu", "cpu", "vllm-requests", "sglang-requests", "builtin-both"],
)  # fmt: skip
def test_autoscaler_scales_the_modelserver(
    make_serving: Any, engine: str, scaling: dict[str, Any], metrics: list[tuple[str, str, dict[str, Any]]]
) -> None:
    hpa = autoscaler(make_serving({"engine": engine, "autoscaling": {"minReplicas": 2, **scaling}}))
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "kubefactory.io/v1alpha1",
        "kind": "ModelServer",
        "name": "chat",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    found = []
    for metric in hpa["spec"]["metrics"]:
        if metric["type"] == "Resource":
            found.append(("Resource", metric["resource"]["name"], metric["resource"]["target"]))
        else:
            found.append(("Pods", metric["pods"]["metric"]["name"], metric["pods"]["target"]))
    assert found == metrics


def test_no_autoscaling_no_autoscaler(make_serving: Any) -> None:
    assert autoscaler(make_serving()) is None


@pytest.mark.parametrize(
    ("spec", "budget"),
    [
        ({"replicas": 1}, False),
        ({"replicas": 2}, True),
        ({"replicas": 1, "autoscaling": {"minReplicas": 1, "maxReplicas": 5}}, False),
        ({"replicas": 1, "autoscaling": {"minReplicas": 3, "maxReplicas": 5}}, True),
    ],
)
def test_disruption_budget_only_with_several_replicas(
    make_serving: Any, spec: dict[str, Any], budget: bool
) -> None:
    pdb = disruption_budget(make_serving(spec))
    assert (pdb is not None) == budget
    if pdb is not None:
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["selector"]["matchLabels"] == make_serving().selector()


@pytest.mark.parametrize(
    ("engine", "merge", "files"),
    [("huggingface", None, ["serve.yaml"]), ("vllm", None, []), ("vllm", MERGE, ["merge.yaml"]),
     ("huggingface", MERGE, ["merge.yaml", "serve.yaml"])],
)  # fmt: skip
def test_config_files(make_serving: Any, engine: str, merge: MergeInputs | None, files: list[str]) -> None:
    found = config_files(make_serving({"engine": engine}, merge=merge, template="qwen"))
    assert sorted(found) == files
    for text in found.values():
        validate_config(yaml.safe_load(text))  # the runtime accepts what the operator writes


def test_merge_config_and_job(make_serving: Any, settings: OperatorSettings) -> None:
    inputs = make_serving(
        {"fineTuneJob": {"name": "identity-lora"}, "model": None, "merge": True},
        model_uri="pvc://chat-merged/0123456789abcdef",
        merge=MERGE,
        template="qwen",
    )
    assert yaml.safe_load(config_files(inputs)["merge.yaml"]) == {
        "model_name_or_path": "Qwen/Qwen2.5-0.5B",
        "adapter_name_or_path": "/kubefactory/claims/identity-lora-output/identity-lora",
        "export_dir": "/kubefactory/merged/0123456789abcdef",
        "template": "qwen",
    }
    job = merge_job(inputs, settings)
    assert job["metadata"]["name"] == "chat-merge-01234567"
    assert job["metadata"]["annotations"][DIGEST_ANNOTATION] == MERGE.digest
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["kubefactory", "export", "/kubefactory/config/merge.yaml"]
    assert container["image"] == settings.prepare_image
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/kubefactory/claims/identity-lora-output"]["readOnly"] is True
    assert "readOnly" not in mounts["/kubefactory/merged"]
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims["merged"] == "chat-merged"
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    assert merged_claim(inputs, settings)["metadata"]["name"] == "chat-merged"


def test_merge_job_needs_a_merge(make_serving: Any, settings: OperatorSettings) -> None:
    with pytest.raises(ValueError, match="merge"):
        merge_job(make_serving(), settings)
