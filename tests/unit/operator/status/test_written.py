"""Every status key the planners write survives the CRDs' structural schemas (nothing is pruned).

A structural schema drops unknown fields without a word, so a misspelt key would be lost silently.
Two guarantees together: the planners build their statuses through the status models (which
forbid unknown fields), and every field of those models is in the committed CRD schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubefactory.operator.api.dataset import DatasetStatus
from kubefactory.operator.api.finetunejob import FineTuneJobStatus
from kubefactory.operator.api.modelserver import ModelServerStatus
from kubefactory.operator.reconcile.dataset_plan import DatasetObservation, plan_dataset
from kubefactory.operator.reconcile.serving_plan import ServingObservation, plan_serving
from kubefactory.operator.reconcile.training_plan import TrainingObservation, plan_training
from kubefactory.operator.settings import OperatorSettings
from kubefactory.operator.status.written import written
from pydantic import BaseModel, ValidationError

CRDS = Path(__file__).resolve().parents[4] / "crds"
STATUS_MODELS = {
    "finetunejobs": FineTuneJobStatus,
    "datasets": DatasetStatus,
    "modelservers": ModelServerStatus,
}


def status_schema(plural: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / f"kubefactory.io_{plural}.yaml").read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    return schema


def pruned(schema: dict[str, Any], value: Any, path: str = "status") -> list[str]:
    """The paths of ``value`` that the structural schema would prune."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        out = []
        for key, item in value.items():
            if properties is not None and key in properties:
                out += pruned(properties[key], item, f"{path}.{key}")
            elif isinstance(extra, dict):
                out += pruned(extra, item, f"{path}.{key}")
            else:
                out.append(f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [
            p
            for index, item in enumerate(value)
            for p in pruned(schema.get("items", {}), item, f"{path}[{index}]")
        ]
    return []


def model_paths(model: type[BaseModel], prefix: str = "status") -> dict[str, type[BaseModel] | None]:
    """Every field path of a status model (lists as ``[]``), by alias."""
    out: dict[str, type[BaseModel] | None] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}.{field.alias or name}"
        out[path] = None
        for inner in _models_in(field.annotation):
            out.update(model_paths(inner, path + ("[]" if _is_list(field.annotation) else "")))
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _is_list(annotation: Any) -> bool:
    if getattr(annotation, "__origin__", None) is list:
        return True
    return any(_is_list(arg) for arg in getattr(annotation, "__args__", ()))


def _schema_at(schema: dict[str, Any], path: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for part in path.split(".")[1:]:
        if node is None:
            return None
        many = part.endswith("[]")
        node = (node.get("properties") or {}).get(part.removesuffix("[]"))
        if node is not None and many:
            node = node.get("items")
    return node


@pytest.mark.parametrize("plural", sorted(STATUS_MODELS))
def test_every_status_field_is_in_the_crd_schema(plural: str) -> None:
    schema = status_schema(plural)
    paths = model_paths(STATUS_MODELS[plural])
    assert len(paths) > 5  # the walk sees the model
    missing = [path for path in paths if _schema_at(schema, path) is None]
    assert not missing, f"pruned by the CRD schema: {missing}"


def test_a_misspelt_status_key_fails_at_once() -> None:
    with pytest.raises(ValidationError, match="phse"):
        written(FineTuneJobStatus, {"phse": "Running"})
    with pytest.raises(ValidationError, match="stpe"):
        written(FineTuneJobStatus, {"phase": "Running", "progress": {"stpe": 3}})


def test_the_walk_finds_a_pruned_key() -> None:
    schema = status_schema("finetunejobs")
    assert pruned(schema, {"phase": "Running", "progress": {"stpe": 1}}) == ["status.progress.stpe"]
    assert pruned(schema, {"conditions": [{"type": "Running", "extra": 1}]}) == ["status.conditions[0].extra"]


def _training_statuses(settings: OperatorSettings, now: Any, mk: dict[str, Any]) -> list[dict[str, Any]]:
    progress = json.dumps(
        {"step": 20, "totalSteps": 100, "epoch": 0.2, "loss": 1.5, "learningRate": 1e-4,
         "tokensPerSecond": 10.0, "etaSeconds": 5, "latestCheckpoint": "checkpoint-20",
         "updatedAt": "2026-01-02T03:04:05Z"}
    )  # fmt: skip
    body = mk["finetunejob"]()
    datasets = {"identity": mk["dataset"]()}
    running = [mk["pod"](rank=0), mk["pod"](rank=1)]
    plans = [
        plan_training(TrainingObservation(body, datasets, [], [], None, now), settings),
        plan_training(TrainingObservation(body, {"identity": None}, [], [], None, now), settings),
        plan_training(TrainingObservation(body, datasets, [mk["job"]()], running, progress, now), settings),
        plan_training(
            TrainingObservation(body, datasets, [mk["job"](condition="Complete")], [], progress, now),
            settings,
        ),
        plan_training(
            TrainingObservation(mk["finetunejob"]({"resources": {"nodes": 0}}), datasets, [], [], None, now),
            settings,
        ),
    ]
    return [plan.status for plan in plans if plan.status is not None]


def test_planned_statuses_survive_the_schemas(
    settings: OperatorSettings,
    now: Any,
    make_finetunejob: Any,
    make_dataset: Any,
    make_job: Any,
    make_pod: Any,
) -> None:
    mk = {"finetunejob": make_finetunejob, "dataset": make_dataset, "job": make_job, "pod": make_pod}
    training = _training_statuses(settings, now, mk)
    dataset_body = make_dataset(phase=None)
    datasets = [plan_dataset(DatasetObservation(dataset_body, [], [], now), settings).status]
    server = {
        "apiVersion": "kubefactory.io/v1alpha1",
        "kind": "ModelServer",
        "metadata": {
            "name": "chat",
            "namespace": "team-a",
            "uid": "u",
            "generation": 1,
            "resourceVersion": "1",
        },
        "spec": {"fineTuneJob": {"name": "sft"}, "resources": {"accelerator": "cpu"}},
    }
    observed = ServingObservation(server, {"sft": None}, None, [], [], [], now)
    servers = [plan_serving(observed, settings).status]
    cases = [("finetunejobs", s) for s in training] + [("datasets", s) for s in datasets]
    cases += [("modelservers", s) for s in servers]
    assert len(training) == 5 and all(status for _, status in cases)
    assert any("progress" in status for status in training)  # the deepest part is covered
    for plural, status in cases:
        assert pruned(status_schema(plural), status) == [], (plural, status)
