"""Every child of a FineTuneJob: what exists, in which order, and how the pieces fit together."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.builders.gang import pod_group
from kubefactory.operator.builders.training_children import attempt_children, shared_children
from kubefactory.operator.settings import OperatorSettings


def kinds(objects: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objects]


def test_children_in_order(make_inputs: Any, settings: OperatorSettings) -> None:
    inputs = make_inputs()
    assert kinds(shared_children(inputs, settings)) == [
        "PersistentVolumeClaim/sft-output",
        "ServiceAccount/sft-trainer",
        "Role/sft-trainer",
        "RoleBinding/sft-trainer",
        "ConfigMap/sft-progress",
        "ConfigMap/sft-config",
        "Service/sft-workers",
    ]
    assert kinds(attempt_children(inputs, settings, suspend=False)) == ["Job/sft-a1"]
    gang = make_inputs({"scheduling": {"gang": {}}})
    assert kinds(attempt_children(gang, settings, suspend=False)) == ["PodGroup/sft-a1", "Job/sft-a1"]


def test_every_child_is_labelled_and_annotated_with_its_parent(
    make_inputs: Any, settings: OperatorSettings
) -> None:
    inputs = make_inputs()
    for child in [*shared_children(inputs, settings), *attempt_children(inputs, settings, suspend=False)]:
        meta = child["metadata"]
        assert meta["namespace"] == "team-a"
        assert meta["labels"]["kubefactory.io/finetunejob"] == "sft"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "kubefactory-operator"
        assert meta["annotations"]["kubefactory.io/parent"] == "FineTuneJob/sft"


@pytest.mark.parametrize(
    ("output", "claim", "owned"), [({}, "sft-output", False), ({"retain": False}, "sft-output", True)]
)
def test_output_claim_is_kept_unless_asked(
    make_inputs: Any, settings: OperatorSettings, output: dict[str, Any], claim: str, owned: bool
) -> None:
    made = shared_children(make_inputs({"output": output}), settings)[0]
    assert made["metadata"]["name"] == claim
    assert ("ownerReferences" in made["metadata"]) is owned
    assert made["spec"]["resources"]["requests"]["storage"] == "100Gi"


def test_a_named_claim_is_used_not_created(make_inputs: Any, settings: OperatorSettings) -> None:
    inputs = make_inputs({"output": {"pvc": {"claimName": "results", "subPath": "runs/sft"}}})
    children = shared_children(inputs, settings)
    assert not any(child["kind"] == "PersistentVolumeClaim" for child in children)
    assert inputs.output_location == "pvc://results/runs/sft"


def test_trainer_may_touch_only_its_progress_config_map(make_inputs: Any, settings: OperatorSettings) -> None:
    by_kind = {child["kind"]: child for child in shared_children(make_inputs(), settings)}
    assert by_kind["Role"]["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["sft-progress"],
            "verbs": ["get", "patch", "update"],
        }
    ]
    assert by_kind["RoleBinding"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "sft-trainer", "namespace": "team-a"}
    ]
    assert by_kind["RoleBinding"]["roleRef"]["name"] == "sft-trainer"


def test_service_selects_the_training_pods(make_inputs: Any, settings: OperatorSettings) -> None:
    inputs = make_inputs({"distributed": {"masterPort": 23456}})
    service = next(c for c in shared_children(inputs, settings) if c["kind"] == "Service")
    job = attempt_children(inputs, settings, suspend=False)[-1]
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["port"] == 23456


def test_pod_group_for_gang_scheduling(make_inputs: Any) -> None:
    group = pod_group(make_inputs({"scheduling": {"gang": {"queue": "npu"}, "priorityClassName": "high"}}))
    assert group is not None
    assert group["apiVersion"] == "scheduling.volcano.sh/v1beta1"
    assert group["spec"] == {
        "minMember": 2,
        "minResources": {"nvidia.com/gpu": "16"},
        "queue": "npu",
        "priorityClassName": "high",
    }
    assert pod_group(make_inputs()) is None
