"""parse(): every invalid object is rejected at the path the API server names, with a message a user can act on."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubefactory.operator.api import FineTuneJob, ManifestError, ModelServer, parse
from kubefactory.operator.api.kinds import field_path

REPO = Path(__file__).resolve().parents[4]
QUICKSTART = REPO / "examples" / "quickstart"
CASES = yaml.safe_load((Path(__file__).parent / "invalid_manifests.yaml").read_text())


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: mappings merge, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def quickstart(kind: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((QUICKSTART / f"{kind}.yaml").read_text())
    return manifest


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_invalid_manifest_is_rejected_at_its_path(case: dict[str, Any]) -> None:
    manifest = merge_patch(quickstart(case["base"]), case["patch"])
    with pytest.raises(ManifestError) as caught:
        parse(manifest)
    messages = {path: message for path, message in caught.value.problems}
    assert case["path"] in messages, f"expected a problem at {case['path']}, got {caught.value.problems}"
    assert case["python"] in messages[case["path"]]
    assert f"{case['path']}: " in str(caught.value)  # the rendered error names the path too


def test_cases_cover_every_kind_and_start_from_valid_manifests() -> None:
    assert {case["base"] for case in CASES} == {"dataset", "finetunejob", "modelserver"}
    for base in ("dataset", "finetunejob", "modelserver"):
        parse(quickstart(base))  # a case that fails proves something only if its base is valid


def test_all_problems_are_reported_at_once() -> None:
    manifest = merge_patch(
        quickstart("finetunejob"),
        {"spec": {"resources": {"nodes": 0}, "training": {"lora_rank": "eight", "lora_rnk": 1}}},
    )
    with pytest.raises(ManifestError) as caught:
        parse(manifest)
    paths = [path for path, _ in caught.value.problems]
    assert sorted(paths) == ["spec.resources.nodes", "spec.training.lora_rank", "spec.training.lora_rnk"]
    assert str(caught.value).startswith("FineTuneJob/identity-lora is invalid:")


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
            "kind one of Dataset, FineTuneJob, ModelServer",
        ),
        (
            {"apiVersion": "kubefactory.io/v1", "kind": "Dataset"},
            "expected apiVersion kubefactory.io/v1alpha1",
        ),
    ],
)
def test_parse_refuses_other_kinds(manifest: dict[str, Any], expected: str) -> None:
    with pytest.raises(ManifestError, match="apiVersion/kind") as caught:
        parse(manifest)
    assert expected in str(caught.value)


def test_parse_returns_the_kinds_model_with_defaults_filled_in() -> None:
    job = parse(quickstart("finetunejob"))
    assert isinstance(job, FineTuneJob)
    assert job.spec.resources.nodes == 1
    assert job.spec.distributed.strategy == "auto"
    assert job.spec.failure_policy.max_restarts == 3
    assert job.spec.training["lora_rank"] == 8  # the block stays as written: a plain mapping
    server = parse(quickstart("modelserver"))
    assert isinstance(server, ModelServer)
    assert server.spec.fine_tune_job is not None and server.spec.fine_tune_job.name == "identity-lora"


def test_models_accept_python_names_and_dump_camel_case() -> None:
    manifest = quickstart("modelserver")
    model = ModelServer.model_validate(manifest)
    dumped = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert dumped == manifest
    by_name = copy.deepcopy(manifest)
    by_name["spec"]["fine_tune_job"] = by_name["spec"].pop("fineTuneJob")
    assert ModelServer.model_validate(by_name) == model


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("spec", "datasets", 0, "name"), "spec.datasets[0].name"),
        (("spec",), "spec"),
        ((), ""),
    ],
)
def test_field_path(loc: tuple[str | int, ...], expected: str) -> None:
    assert field_path(loc) == expected
