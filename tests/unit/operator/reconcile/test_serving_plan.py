"""A ModelServer's decisions: what it serves, which children it applies, its phase and conditions."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.builders.server_deployment import REVISION_ANNOTATION
from kubefactory.operator.naming import Owner
from kubefactory.operator.reconcile.serving_plan import ServingObservation, finetunejob_names, plan_serving
from kubefactory.operator.reconcile.serving_sources import Problem, resolve
from kubefactory.operator.settings import OperatorSettings
from operator_factories import NOW, merge

OWNER = Owner("ModelServer", "chat", "team-a", "uid-ms")


def modelserver(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "kubefactory.io/v1alpha1",
        "kind": "ModelServer",
        "metadata": {
            "name": "chat",
            "namespace": "team-a",
            "uid": "uid-ms",
            "generation": 2,
            "resourceVersion": "9",
        },
        "spec": merge({"resources": {"accelerator": "cpu"}}, spec),
    }
    if status is not None:
        body["status"] = status
    return body


def finetunejob(
    name: str = "sft",
    phase: str | None = "Succeeded",
    finetuning: str = "lora",
    uid: str = "uid-ftj",
    **status: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": name, "uid": uid},
        "spec": {
            "model": "hf://Qwen/Qwen2.5-0.5B",
            "training": {"template": "qwen", "finetuning_type": finetuning},
        },
        "status": {"phase": phase, **status},
    }
    if phase == "Succeeded":
        body["status"].setdefault("outputLocation", f"pvc://{name}-output/{name}")
        body["status"].setdefault("completionTime", "2026-01-01T00:00:00Z")
    return body


def observe(body: dict[str, Any], jobs: dict[str, Any] | None = None, **children: Any) -> ServingObservation:
    return ServingObservation(
        body,
        jobs or {},
        children.get("deployment"),
        children.get("merge_jobs", []),
        children.get("autoscalers", []),
        children.get("budgets", []),
        NOW,
    )


def applied(plan: Any) -> dict[str, dict[str, Any]]:
    return {child["kind"]: child for child in plan.apply}


def conditions(plan: Any) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in plan.status["conditions"]}


def deployment_status(plan: Any, **status: Any) -> dict[str, Any]:
    """The Deployment the plan applies, as the API server would return it with ``status``."""
    found = applied(plan)["Deployment"]
    return {
        **found,
        "metadata": {**found["metadata"], "generation": 1},
        "status": {"observedGeneration": 1, **status},
    }


# --- sources ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "jobs", "expected"),
    [
        ({"model": "hf://Qwen/Qwen2.5-0.5B"}, {}, ("hf://Qwen/Qwen2.5-0.5B", "chat", [])),
        ({"model": "pvc://models/tiny", "servedModelName": "tiny", "adapters": [{"name": "faq", "uri": "pvc://a/faq"}]},
         {}, ("pvc://models/tiny", "tiny", [("faq", "pvc://a/faq")])),
        ({"fineTuneJob": {"name": "sft"}}, {"sft": finetunejob()},
         ("hf://Qwen/Qwen2.5-0.5B", "chat-base", [("chat", "pvc://sft-output/sft")])),
        ({"fineTuneJob": {"name": "sft"}}, {"sft": finetunejob(finetuning="full")}, ("pvc://sft-output/sft", "chat", [])),
        ({"fineTuneJob": {"name": "sft"}, "merge": True}, {"sft": finetunejob()}, ("pvc://chat-merged/", "chat", [])),
        ({"model": "hf://m/b", "adapters": [{"name": "one", "fineTuneJob": {"name": "a"}},
                                             {"name": "two", "fineTuneJob": {"name": "b"}}]},
         {"a": finetunejob("a"), "b": finetunejob("b")},
         ("hf://m/b", "chat", [("one", "pvc://a-output/a"), ("two", "pvc://b-output/b")])),
    ],
    ids=["model", "model-with-adapter", "ftj-adapter", "ftj-full-weights", "ftj-merged", "two-ftj-adapters"],
)  # fmt: skip
def test_resolve(spec: dict[str, Any], jobs: dict[str, Any], expected: tuple[str, str, list[Any]]) -> None:
    from kubefactory.operator.api.modelserver import ModelServerSpec

    found = resolve(OWNER, ModelServerSpec.model_validate(merge({"resources": {}}, spec)), jobs)
    assert not isinstance(found, list), found
    model, base, adapters = expected
    assert found.model_uri.startswith(model) and found.base_name == base and list(found.adapters) == adapters
    assert found.served_models == [base, *(name for name, _ in adapters)]


@pytest.mark.parametrize(
    ("spec", "jobs", "reason", "failed", "words"),
    [
        ({"fineTuneJob": {"name": "sft"}}, {}, "FineTuneJobNotFound", False, "not found in namespace team-a"),
        ({"fineTuneJob": {"name": "sft"}}, {"sft": finetunejob(phase="Running")}, "WaitingForFineTuneJob", False,
         "FineTuneJob sft is Running"),
        ({"fineTuneJob": {"name": "sft"}}, {"sft": finetunejob(phase=None)}, "WaitingForFineTuneJob", False, "Pending"),
        ({"fineTuneJob": {"name": "sft"}},
         {"sft": finetunejob(phase="Failed", conditions=[{"type": "Failed", "status": "True", "message": "OOMKilled"}])},
         "FineTuneJobFailed", True, "failed: OOMKilled"),
        ({"fineTuneJob": {"name": "sft"}}, {"sft": finetunejob(outputLocation="s3://bucket/x")},
         "FineTuneJobResultUnsupported", True, "s3://bucket/x"),
        ({"model": "hf://m/b", "adapters": [{"name": "x", "fineTuneJob": {"name": "sft"}}]},
         {"sft": finetunejob(finetuning="full")}, "AdapterNotLoRA", True, "spec.adapters[0]"),
        ({"model": "hf://m/b", "adapters": [{"name": "chat", "uri": "hf://o/a"}]}, {}, "DuplicateModelName", True, "chat"),
        ({"model": "s3://bucket/model"}, {}, "UnsupportedModelLocation", True, "pvc:// and hf://"),
    ],
    ids=["not-found", "running", "no-phase", "failed", "bucket-result", "adapter-not-lora", "duplicate-name", "s3-model"],
)  # fmt: skip
def test_resolve_problems(
    spec: dict[str, Any], jobs: dict[str, Any], reason: str, failed: bool, words: str
) -> None:
    from kubefactory.operator.api.modelserver import ModelServerSpec

    found = resolve(OWNER, ModelServerSpec.model_validate(merge({"resources": {}}, spec)), jobs)
    assert isinstance(found, list)
    problem: Problem = found[0]
    assert (problem.reason, problem.failed) == (reason, failed)
    assert words in problem.message


def test_finetunejob_names_before_validation() -> None:
    spec = {
        "fineTuneJob": {"name": "a"},
        "adapters": [{"name": "x", "fineTuneJob": {"name": "b"}}, {"name": "y"}],
    }
    assert finetunejob_names(spec) == ["a", "b"]


# --- phases ---------------------------------------------------------------------------------------


def test_a_model_is_deployed_at_once(settings: OperatorSettings) -> None:
    plan = plan_serving(observe(modelserver({"model": "hf://Qwen/Qwen2.5-0.5B"})), settings)
    assert sorted(applied(plan)) == ["ConfigMap", "Deployment", "Service"]
    assert plan.status["phase"] == "Deploying"
    assert conditions(plan) == {
        "ModelReady": ("True", "Resolved"),
        "Available": ("False", "NoReplicaReady"),
        "Progressing": ("True", "Progressing"),
    }
    assert plan.status["url"] == "http://chat.team-a.svc:8000/v1"
    assert plan.status["servedModels"] == ["chat"] and plan.status["observedGeneration"] == 2
    assert plan.status["selector"] == "app.kubernetes.io/component=server,kubefactory.io/modelserver=chat"
    assert [(e.reason, e.type) for e in plan.events] == [("Deploying", "Normal")]


def test_ready_once_every_replica_runs_the_wanted_revision(settings: OperatorSettings) -> None:
    body = modelserver({"model": "hf://Qwen/Qwen2.5-0.5B", "replicas": 2}, {"phase": "Deploying"})
    first = plan_serving(observe(body), settings)
    done = deployment_status(first, replicas=2, readyReplicas=2, availableReplicas=2, updatedReplicas=2)
    plan = plan_serving(observe(body, deployment=done), settings)
    assert plan.status["phase"] == "Ready"
    assert (plan.status["replicas"], plan.status["readyReplicas"]) == (2, 2)
    assert conditions(plan)["Available"] == ("True", "Available")
    assert conditions(plan)["Progressing"] == ("False", "RolloutComplete")
    assert [e.reason for e in plan.events] == ["Ready"]
    assert "PodDisruptionBudget" in applied(plan)


def test_a_new_revision_is_deploying_while_the_old_pods_still_serve(settings: OperatorSettings) -> None:
    body = modelserver({"model": "hf://Qwen/Qwen2.5-0.5B"}, {"phase": "Ready"})
    old = deployment_status(
        plan_serving(observe(body), settings),
        replicas=1,
        readyReplicas=1,
        availableReplicas=1,
        updatedReplicas=1,
    )
    old["spec"]["template"]["metadata"]["annotations"][REVISION_ANNOTATION] = "an-older-revision"
    plan = plan_serving(observe(body, deployment=old), settings)
    assert plan.status["phase"] == "Deploying"
    assert conditions(plan)["Available"] == ("True", "Available")
    assert conditions(plan)["Progressing"] == ("True", "Progressing")


def test_a_new_finetunejob_result_changes_the_revision(settings: OperatorSettings) -> None:
    body = modelserver({"fineTuneJob": {"name": "sft"}})

    def revision(job: dict[str, Any]) -> str:
        plan = plan_serving(observe(body, {"sft": job}), settings)
        return str(
            applied(plan)["Deployment"]["spec"]["template"]["metadata"]["annotations"][REVISION_ANNOTATION]
        )

    assert revision(finetunejob()) == revision(finetunejob())
    assert revision(finetunejob()) != revision(finetunejob(uid="uid-rerun"))


def test_waiting_for_a_finetunejob_keeps_what_is_served(settings: OperatorSettings) -> None:
    before = {
        "phase": "Ready",
        "url": "http://chat.team-a.svc:8000/v1",
        "servedModels": ["chat-base", "chat"],
    }
    body = modelserver({"fineTuneJob": {"name": "sft"}}, before)
    running = {"metadata": {"name": "chat", "generation": 1}, "spec": {"replicas": 1},
               "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}}  # fmt: skip
    plan = plan_serving(observe(body, {"sft": finetunejob(phase="Running")}, deployment=running), settings)
    assert plan.apply == [] and plan.delete == []  # the running server is left as it is
    assert plan.status["phase"] == "Pending"
    assert conditions(plan)["ModelReady"] == ("False", "WaitingForFineTuneJob")
    assert conditions(plan)["Available"] == ("True", "Available")
    assert plan.status["url"] == before["url"] and plan.status["servedModels"] == before["servedModels"]


def test_waiting_without_a_server(settings: OperatorSettings) -> None:
    plan = plan_serving(observe(modelserver({"fineTuneJob": {"name": "sft"}})), settings)
    assert plan.apply == [] and plan.status["phase"] == "Pending"
    assert "url" not in plan.status and plan.status["readyReplicas"] == 0
    assert [e.reason for e in plan.events] == ["Pending"]


def test_a_failed_finetunejob_fails_the_server(settings: OperatorSettings) -> None:
    jobs = {"sft": finetunejob(phase="Failed")}
    plan = plan_serving(observe(modelserver({"fineTuneJob": {"name": "sft"}}), jobs), settings)
    assert plan.status["phase"] == "Failed"
    assert conditions(plan)["ModelReady"] == ("False", "FineTuneJobFailed")
    assert [(e.reason, e.type) for e in plan.events] == [("Failed", "Warning")]


MERGING = {"fineTuneJob": {"name": "sft"}, "merge": True, "engine": "vllm", "image": "vllm:cpu"}


def merge_job_with(plan: Any, condition: str | None) -> dict[str, Any]:
    job = applied(plan)["Job"]
    status = {"conditions": [{"type": condition, "status": "True", "message": "boom"}]} if condition else {}
    return {**job, "status": status}


def test_merge_runs_before_anything_is_deployed(settings: OperatorSettings) -> None:
    body = modelserver(MERGING)
    plan = plan_serving(observe(body, {"sft": finetunejob()}), settings)
    assert sorted(applied(plan)) == ["ConfigMap", "Job", "PersistentVolumeClaim"]
    assert plan.status["phase"] == "Merging"
    assert conditions(plan)["ModelReady"] == ("False", "Merging")
    assert [e.reason for e in plan.events] == ["MergeJobCreated", "Merging"]

    running = merge_job_with(plan, None)
    again = plan_serving(observe(body, {"sft": finetunejob()}, merge_jobs=[running]), settings)
    assert "Job" not in applied(again) and again.status["phase"] == "Merging"

    done = merge_job_with(plan, "Complete")
    deployed = plan_serving(observe(body, {"sft": finetunejob()}, merge_jobs=[done]), settings)
    assert "Deployment" in applied(deployed) and deployed.status["phase"] == "Deploying"
    command = applied(deployed)["Deployment"]["spec"]["template"]["spec"]["containers"][0]["command"]
    digest = done["metadata"]["annotations"]["kubefactory.io/merge-digest"]
    assert command[:3] == ["vllm", "serve", f"/kubefactory/claims/chat-merged/{digest}"]
    assert conditions(deployed)["ModelReady"] == ("True", "Merged")

    failed = merge_job_with(plan, "Failed")
    broken = plan_serving(observe(body, {"sft": finetunejob()}, merge_jobs=[failed]), settings)
    assert broken.status["phase"] == "Failed" and conditions(broken)["ModelReady"] == ("False", "MergeFailed")
    assert "boom" in broken.status["conditions"][0]["message"]


def test_a_new_result_merges_anew_and_the_old_merge_job_goes(settings: OperatorSettings) -> None:
    body = modelserver(MERGING)
    old = merge_job_with(plan_serving(observe(body, {"sft": finetunejob()}), settings), "Complete")
    plan = plan_serving(observe(body, {"sft": finetunejob(uid="uid-rerun")}, merge_jobs=[old]), settings)
    assert plan.status["phase"] == "Merging"
    assert applied(plan)["Job"]["metadata"]["name"] != old["metadata"]["name"]
    assert [ref.name for ref in plan.delete] == [old["metadata"]["name"]]


def test_autoscaler_and_budget_follow_the_spec(settings: OperatorSettings) -> None:
    scaled = modelserver({"model": "hf://m/b", "autoscaling": {"minReplicas": 2, "maxReplicas": 4}})
    plan = plan_serving(observe(scaled), settings)
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget"} <= set(applied(plan))

    hpa, pdb = applied(plan)["HorizontalPodAutoscaler"], applied(plan)["PodDisruptionBudget"]
    plain = plan_serving(
        observe(modelserver({"model": "hf://m/b"}), autoscalers=[hpa], budgets=[pdb]), settings
    )
    assert sorted((ref.kind, ref.name) for ref in plain.delete) == [
        ("HorizontalPodAutoscaler", "chat"),
        ("PodDisruptionBudget", "chat"),
    ]


@pytest.mark.parametrize(
    ("spec", "reason", "words"),
    [
        ({"model": "hf://m/b", "replicas": -1}, "InvalidSpec", "spec.replicas"),
        (
            {"model": "hf://m/b", "engine": "vllm", "image": "v", "engineArgs": ["8192"]},
            "InvalidSpec",
            "spec.engineArgs[0]",
        ),
        (
            {"model": "hf://m/b", "engine": "sglang", "resources": {"accelerator": "ascend"}},
            "NoImage",
            "spec.image",
        ),
        (
            {"model": "hf://m/b", "resources": {"nodesPerReplica": 2}},
            "LeaderWorkerSetRequired",
            "nodesPerReplica",
        ),
    ],
    ids=["invalid", "engine-args", "no-image", "multi-node"],
)
def test_what_cannot_be_served_fails_with_a_reason(
    settings: OperatorSettings, spec: dict[str, Any], reason: str, words: str
) -> None:
    plan = plan_serving(observe(modelserver(spec)), settings)
    assert plan.apply == []
    assert plan.status["phase"] == "Failed"
    model = plan.status["conditions"][0]
    assert (model["type"], model["reason"]) == ("ModelReady", reason) and words in model["message"]
