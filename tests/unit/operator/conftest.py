"""Factories for the operator's unit tests: custom resources, Jobs and pods as the API server returns them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from kubefactory.operator.naming import LABEL_ATTEMPT, LABEL_COMPONENT, LABEL_FINETUNEJOB, Owner
from kubefactory.operator.settings import OperatorSettings
from operator_factories import NOW, merge

KWOK_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
TRAINING = {"stage": "sft", "do_train": True, "finetuning_type": "lora", "template": "qwen", "save_steps": 10}

Factory = Callable[..., dict[str, Any]]


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def settings() -> OperatorSettings:
    return OperatorSettings.model_validate({"defaultTolerations": [KWOK_TOLERATION]})


@pytest.fixture
def owner() -> Owner:
    return Owner("FineTuneJob", "sft", "team-a", "uid-1")


@pytest.fixture
def make_finetunejob() -> Factory:
    def make(
        spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, **meta: Any
    ) -> dict[str, Any]:
        base_spec = {
            "model": "hf://Qwen/Qwen2.5-0.5B",
            "datasets": [{"name": "identity"}],
            "training": dict(TRAINING),
            "resources": {"accelerator": "nvidia", "acceleratorsPerNode": 8, "nodes": 2},
        }
        body: dict[str, Any] = {
            "apiVersion": "kubefactory.io/v1alpha1",
            "kind": "FineTuneJob",
            "metadata": {
                "name": "sft",
                "namespace": "team-a",
                "uid": "uid-1",
                "generation": 1,
                "resourceVersion": "100",
                **meta,
            },
            "spec": merge(base_spec, spec or {}),
        }
        if status is not None:
            body["status"] = status
        return body

    return make


@pytest.fixture
def make_dataset() -> Factory:
    def make(
        name: str = "identity",
        phase: str | None = "Ready",
        spec: dict[str, Any] | None = None,
        generation: int = 1,
        observed: int | None = None,
        location: str | None = None,
        message: str = "",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "apiVersion": "kubefactory.io/v1alpha1",
            "kind": "Dataset",
            "metadata": {
                "name": name,
                "namespace": "team-a",
                "uid": f"uid-{name}",
                "generation": generation,
                "resourceVersion": "7",
            },
            "spec": merge(
                {"source": {"configMap": {"name": f"{name}-data", "key": "data.json"}}}, spec or {}
            ),
        }
        if phase is not None:
            body["status"] = {
                "phase": phase,
                "observedGeneration": generation if observed is None else observed,
                "location": location or f"pvc://{name}-data/abc123",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if phase == "Ready" else "False",
                        "reason": "Prepared" if phase == "Ready" else "PreparationFailed",
                        "message": message,
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ],
            }
        return body

    return make


@pytest.fixture
def make_job() -> Factory:
    """A training Job as the API server returns it (the conditions the Job controller sets)."""

    def make(
        attempt: int = 1,
        condition: str | None = None,
        suspend: bool = False,
        deleting: bool = False,
        name: str | None = None,
        component: str = "trainer",
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": name or f"sft-a{attempt}",
            "namespace": "team-a",
            "labels": {LABEL_FINETUNEJOB: "sft", LABEL_ATTEMPT: str(attempt), LABEL_COMPONENT: component},
        }
        if deleting:
            meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        status: dict[str, Any] = {}
        if condition:
            status["conditions"] = [{"type": condition, "status": "True", "reason": condition, "message": ""}]
            if condition == "Complete":
                status["completionTime"] = "2026-01-02T00:00:00Z"
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta,
            "spec": {"suspend": suspend},
            "status": status,
        }

    return make


@pytest.fixture
def make_pod() -> Factory:
    """A pod of a training Job; ``exit_code`` makes it Failed with that exit code."""

    def make(
        attempt: int = 1,
        rank: int = 0,
        phase: str = "Running",
        exit_code: int | None = None,
        reason: str = "Error",
        message: str = "",
        deleting: bool = False,
        container: str = "trainer",
        pod_reason: str | None = None,
        conditions: list[dict[str, Any]] | None = None,
        job: str | None = None,
    ) -> dict[str, Any]:
        job_name = job or f"sft-a{attempt}"
        meta: dict[str, Any] = {
            "name": f"{job_name}-{rank}-x{rank}",
            "namespace": "team-a",
            "labels": {LABEL_FINETUNEJOB: "sft", LABEL_ATTEMPT: str(attempt), "job-name": job_name},
            "annotations": {"batch.kubernetes.io/job-completion-index": str(rank)},
        }
        if deleting:
            meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
        if pod_reason:
            status["reason"] = pod_reason
        if exit_code is not None:
            terminated = {"exitCode": exit_code, "reason": reason}
            if message:
                terminated["message"] = message
            status["containerStatuses"] = [{"name": container, "state": {"terminated": terminated}}]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "status": status}

    return make


@pytest.fixture
def make_inputs(make_finetunejob: Factory) -> Callable[..., Any]:
    """TrainingInputs for a FineTuneJob spec (merged into the default one), with one prepared Dataset."""
    from kubefactory.operator.api.dataset import DatasetSpec
    from kubefactory.operator.api.finetunejob import FineTuneJobSpec
    from kubefactory.operator.builders.inputs import TrainingInputs
    from kubefactory.operator.builders.rendered_config import PreparedDataset

    def make(
        spec: dict[str, Any] | None = None, attempt: int = 1, resume_from: str | None = None
    ) -> TrainingInputs:
        body = make_finetunejob(spec)
        dataset = PreparedDataset(
            "identity",
            "identity-data",
            "abc123",
            DatasetSpec.model_validate({"source": {"configMap": {"name": "cm"}}}),
        )
        return TrainingInputs(
            Owner("FineTuneJob", "sft", "team-a", "uid-1"),
            FineTuneJobSpec.model_validate(body["spec"]),
            attempt,
            (dataset,),
            resume_from=resume_from,
        )

    return make


@pytest.fixture
def make_serving() -> Callable[..., Any]:
    """ServingInputs for a ModelServer spec (merged into a model-serving one) and resolved sources."""
    from kubefactory.operator.api.modelserver import ModelServerSpec
    from kubefactory.operator.builders.serving_inputs import ServingInputs

    def make(
        spec: dict[str, Any] | None = None,
        model_uri: str = "hf://Qwen/Qwen2.5-0.5B",
        base_name: str = "chat",
        adapters: tuple[tuple[str, str], ...] = (),
        **fields: Any,
    ) -> ServingInputs:
        body = merge({"model": "hf://Qwen/Qwen2.5-0.5B", "resources": {"accelerator": "nvidia"}}, spec or {})
        return ServingInputs(
            Owner("ModelServer", "chat", "team-a", "uid-ms"),
            ModelServerSpec.model_validate(body),
            model_uri=model_uri,
            base_name=base_name,
            adapters=adapters,
            **fields,
        )

    return make
