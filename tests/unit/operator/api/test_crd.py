"""The generated CRDs: structural, documented, validated by CEL, and committed as generated."""

from __future__ import annotations

import importlib.util
import json
import types
from pathlib import Path
from typing import Any

import pytest
from kubefactory.operator.api.crd import all_crds, crd
from kubefactory.operator.api.kinds import KINDS, Kind
from kubefactory.operator.api.structural import walk
from kubefactory.operator.api.training import LEGACY, OWNED_KEYS
from kubefactory.runtime.config import known_keys
from kubefactory.runtime.config.legacy import DROPPED, RENAMED

REPO = Path(__file__).resolve().parents[4]
FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "const", "title", "nullable", "uniqueItems"}
# short names of built-in resources (kubectl api-resources); the integration tier checks a live server too
BUILTIN_SHORT_NAMES = {
    "cm", "cs", "ep", "ev", "limits", "no", "ns", "po", "pv", "pvc", "quota", "rc", "sa", "svc", "csr",
    "crd", "crds", "ds", "deploy", "rs", "sts", "hpa", "cj", "ing", "netpol", "pdb", "pc", "psp", "sc",
    "ingclass", "ipaddr", "vap", "mwc", "vwc",
}  # fmt: skip


def schema_of(kind: Kind) -> dict[str, Any]:
    schema: dict[str, Any] = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def node_at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for part in path.strip(".").split("."):
        node = node["properties"][part]
    return node


NODES = [(kind.name, path, node) for kind in KINDS for path, node in walk(schema_of(kind))]


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_schema_is_structural(kind: Kind) -> None:
    problems = []
    for path, node in walk(schema_of(kind)):
        if FORBIDDEN & set(node):
            problems.append(f"{path}: {sorted(FORBIDDEN & set(node))}")
        if "type" not in node and not (
            {"x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields"} & set(node)
        ):
            problems.append(f"{path}: no type")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: properties next to additionalProperties")
        if node.get("type") == "array" and "items" not in node:
            problems.append(f"{path}: an array without items")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_every_field_has_a_description(kind: Kind) -> None:
    """Fields (not list items or map values) are documented, so `kubectl explain` explains them."""
    fields = [
        (path, node) for path, node in walk(schema_of(kind)) if path and not path.endswith(("[]", "{}"))
    ]
    undocumented = [path for path, node in fields if path != ".metadata" and not node.get("description")]
    assert not undocumented
    assert len(fields) > 20  # the walk really went through the schema


def test_free_form_only_where_the_value_is_free_form() -> None:
    free = sorted(
        f"{kind}{path}" for kind, path, node in NODES if node.get("x-kubernetes-preserve-unknown-fields")
    )
    training = [path for path in free if path.startswith("FineTuneJob.spec.training.")]
    # core/v1 Affinity is Kubernetes' own type, passed to pods as written
    outside = [path for path in free if path not in training]
    assert all(path.endswith(".affinity") for path in outside), (
        "outside spec.training only affinity is free-form"
    )
    assert "FineTuneJob.spec.scheduling.affinity" in outside
    # inside: the unions LLaMA-Factory allows (str | list, mapping | JSON string) and the ignored legacy keys
    keys = {path.rsplit(".", 1)[1] for path in training}
    assert {"lora_target", "report_to", "lr_scheduler_kwargs", *DROPPED} <= keys
    assert not keys & {"lora_rank", "learning_rate", "stage", "bf16"}


def test_training_lists_every_runtime_key_with_type_and_description() -> None:
    training = node_at(schema_of(KINDS[1]), "spec.training")
    assert set(training["properties"]) == set(known_keys()) | set(RENAMED) | set(DROPPED)
    assert training["properties"]["lora_rank"] == {
        "description": "Rank of the LoRA matrices. Default: 8.",
        "type": "integer",
        "exclusiveMinimum": True,
        "minimum": 0,
    }
    assert training["properties"]["stage"]["enum"] == ["pt", "sft", "rm", "ppo", "dpo", "kto"]
    assert "x-kubernetes-preserve-unknown-fields" not in training  # unknown keys are rejected, not kept
    stored_defaults = [key for key, node in training["properties"].items() if "default" in node]
    assert not stored_defaults  # defaults are the runtime's: described, not written into objects


def test_legacy_table_covers_exactly_the_runtimes_renamed_keys() -> None:
    assert set(LEGACY) == set(RENAMED)
    assert {target for target, _ in LEGACY.values()} <= set(known_keys())


RULES = [
    (
        "Dataset",
        "spec.source",
        "(has(self.uri) ? 1 : 0) + (has(self.pvc) ? 1 : 0) + (has(self.configMap) ? 1 : 0) == 1",
    ),
    ("Dataset", "spec.source", "!has(self.secretRef) || has(self.uri)"),
    ("FineTuneJob", "spec", "self.model == oldSelf.model"),
    ("FineTuneJob", "spec", "self.training == oldSelf.training"),
    ("FineTuneJob", "spec", "self.resources == oldSelf.resources"),
    ("FineTuneJob", "spec.training", "!has(self.model_name_or_path)"),
    ("FineTuneJob", "spec.distributed", "!has(self.deepspeed) || self.strategy == 'deepspeed'"),
    ("FineTuneJob", "spec.output", "!(has(self.pvc) && has(self.bucket))"),
    ("ModelServer", "spec", "has(self.model) != has(self.fineTuneJob)"),
    ("ModelServer", "spec.autoscaling", "self.maxReplicas >= self.minReplicas"),
]


@pytest.mark.parametrize(("kind_name", "path", "rule"), RULES)
def test_cel_rule_is_in_the_schema(kind_name: str, path: str, rule: str) -> None:
    kind = next(kind for kind in KINDS if kind.name == kind_name)
    rules = [entry["rule"] for entry in node_at(schema_of(kind), path).get("x-kubernetes-validations", [])]
    assert any(rule in entry for entry in rules), rules


def test_minimum_nodes_is_a_schema_bound() -> None:
    assert node_at(schema_of(KINDS[1]), "spec.resources.nodes")["minimum"] == 1


def test_cel_rules_only_name_fields_the_schema_declares() -> None:
    """A rule naming a field that is not declared (or is free-form) does not compile on the server."""
    problems = []
    for kind in KINDS:
        for path, node in walk(schema_of(kind)):
            for entry in node.get("x-kubernetes-validations", []):
                for name in _fields_named(entry["rule"]):
                    child = node.get("properties", {}).get(name)
                    if child is None or ("type" not in child and "x-kubernetes-int-or-string" not in child):
                        problems.append(f"{kind.name}{path}: {entry['rule']} names {name}")
    assert not problems, "\n".join(problems)


def _fields_named(rule: str) -> set[str]:
    import re

    return set(re.findall(r"(?:self|oldSelf)\.([A-Za-z_][A-Za-z0-9_]*)", rule))


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_printer_columns_point_at_declared_fields(kind: Kind) -> None:
    schema = schema_of(kind)
    for column in crd(kind)["spec"]["versions"][0]["additionalPrinterColumns"]:
        if column["jsonPath"].startswith(".metadata."):
            continue
        node = node_at(schema, column["jsonPath"])
        assert node.get("type", "string") == column["type"] or column["type"] == "string", column


def test_names_short_names_and_category() -> None:
    short = [name for kind in KINDS for name in kind.short_names]
    assert len(short) == len(set(short))
    assert not set(short) & BUILTIN_SHORT_NAMES
    for kind in KINDS:
        names = crd(kind)["spec"]["names"]
        assert names["categories"] == ["kubefactory"]
        assert names["plural"] == kind.plural and names["kind"] == kind.name


def test_subresources() -> None:
    by_name = {kind.name: crd(kind)["spec"]["versions"][0]["subresources"] for kind in KINDS}
    assert all(sub["status"] == {} for sub in by_name.values())
    assert "scale" not in by_name["Dataset"] and "scale" not in by_name["FineTuneJob"]
    scale = by_name["ModelServer"]["scale"]
    modelserver = schema_of(KINDS[2])
    for key in ("specReplicasPath", "statusReplicasPath", "labelSelectorPath"):
        node_at(modelserver, scale[key])  # each path is a declared field


def test_owned_keys_are_typed_so_their_rules_compile() -> None:
    training = node_at(schema_of(KINDS[1]), "spec.training")
    assert {key: training["properties"][key]["type"] for key in OWNED_KEYS} == dict.fromkeys(
        OWNED_KEYS, "string"
    )


@pytest.mark.parametrize("name", sorted(all_crds()))
def test_crd_fits_client_side_apply(name: str) -> None:
    """kubectl apply (client-side) keeps a copy in an annotation, limited to 256 KiB."""
    assert len(json.dumps(all_crds()[name], separators=(",", ":"))) < 256 * 1024


# --- hack/gen_crds.py -------------------------------------------------------------------------


def load_generator() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("gen_crds", REPO / "hack" / "gen_crds.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_crds_are_up_to_date() -> None:
    generator = load_generator()
    assert generator.stale_files(generator.expected_files()) == [], "run `make crds`"


def test_check_mode_fails_on_drift_and_on_leftovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    generator = load_generator()
    targets = (tmp_path / "crds", tmp_path / "charts" / "kubefactory" / "crds")
    monkeypatch.setattr(generator, "ROOT", tmp_path)
    monkeypatch.setattr(generator, "TARGETS", targets)
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0

    edited = targets[0] / "kubefactory.io_datasets.yaml"
    edited.write_text(edited.read_text().replace("kfds", "kfd"))
    (targets[1] / "kubefactory.io_old.yaml").write_text(generator.HEADER + "{}\n")
    assert generator.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "crds/kubefactory.io_datasets.yaml" in err
    assert "charts/kubefactory/crds/kubefactory.io_old.yaml (no longer generated)" in err

    assert generator.main([]) == 0  # regenerating repairs both
    assert not (targets[1] / "kubefactory.io_old.yaml").exists()
    assert generator.main(["--check"]) == 0
