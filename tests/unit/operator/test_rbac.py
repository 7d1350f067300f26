"""The operator's RBAC covers every object it reads or writes, and no more than it needs."""

from __future__ import annotations

from typing import Any

from kubefactory.operator.builders.merge_job import merge_job
from kubefactory.operator.builders.prepare_job import data_claim, prepare_job_manifest
from kubefactory.operator.builders.server_deployment import server_deployment
from kubefactory.operator.builders.serving_children import (
    autoscaler,
    config_map,
    disruption_budget,
    merged_claim,
    server_service,
)
from kubefactory.operator.builders.serving_inputs import MergeInputs
from kubefactory.operator.builders.training_children import attempt_children, shared_children
from kubefactory.operator.kube import RESOURCES
from kubefactory.operator.rbac import cluster_role, rules
from kubefactory.operator.settings import OperatorSettings


def allowed(group: str, resource: str) -> set[str]:
    return {
        verb
        for rule in rules()
        if group in rule["apiGroups"] and resource in rule["resources"]
        for verb in rule["verbs"]
    }


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def test_every_child_kind_can_be_applied_and_deleted(
    make_inputs: Any, make_serving: Any, settings: OperatorSettings
) -> None:
    from kubefactory.operator.api.dataset import DatasetSpec
    from kubefactory.operator.naming import Owner

    inputs = make_inputs({"scheduling": {"gang": {}}})
    dataset = Owner("Dataset", "d", "ns", "u")
    spec = DatasetSpec.model_validate({"source": {"configMap": {"name": "cm"}}})
    serving = make_serving(
        {"autoscaling": {"minReplicas": 2, "maxReplicas": 3}},
        merge=MergeInputs("hf://m/b", "pvc://c/a", "0123456789abcdef"),
    )
    children = [
        *shared_children(inputs, settings),
        server_deployment(serving, settings, "image", "rev"),
        server_service(serving),
        autoscaler(serving),
        disruption_budget(serving),
        config_map(serving, {"serve.yaml": ""}),
        merged_claim(serving, settings),
        merge_job(serving, settings),
        *attempt_children(inputs, settings, suspend=False),
        data_claim(dataset, settings),
        prepare_job_manifest(dataset, spec, settings),
    ]
    for child in children:
        assert child is not None
        plural, _ = RESOURCES[(child["apiVersion"], child["kind"])]
        verbs = allowed(group_of(child["apiVersion"]), plural)
        assert {"get", "list", "watch", "create", "patch", "delete"} <= verbs, f"{child['kind']}: {verbs}"


def test_the_trainer_role_is_within_the_operators_rights(
    make_inputs: Any, settings: OperatorSettings
) -> None:
    # the API server only lets the operator grant rights it holds itself
    role = next(c for c in shared_children(make_inputs(), settings) if c["kind"] == "Role")
    for rule in role["rules"]:
        for resource in rule["resources"]:
            assert set(rule["verbs"]) <= allowed(rule["apiGroups"][0], resource)


def test_custom_resources_are_read_and_only_their_status_written() -> None:
    for resource in ("finetunejobs", "datasets", "modelservers"):
        assert allowed("kubefactory.io", resource) == {"get", "list", "watch"}
        assert allowed("kubefactory.io", f"{resource}/status") == {"get", "patch", "update"}


def test_pods_are_only_watched_and_events_only_recorded() -> None:
    assert allowed("", "pods") == {"get", "list", "watch"}
    assert allowed("", "events") == allowed("events.k8s.io", "events") == {"create", "patch"}
    assert not allowed("", "secrets") and not allowed("", "nodes")


def test_cluster_role_wraps_the_rules() -> None:
    role = cluster_role()
    assert role["kind"] == "ClusterRole" and role["metadata"]["name"] == "kubefactory-operator"
    assert role["rules"] == rules()
