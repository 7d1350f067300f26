"""The kind registry: one row per kind, read by the controller, handlers, API client and RBAC."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from kubefactory.operator.api.kinds import KINDS
from kubefactory.operator.controller import Controller
from kubefactory.operator.kube import RESOURCES
from kubefactory.operator.rbac import rules
from kubefactory.operator.registry import REGISTRY, ROWS, child_kinds, referrers, watched_children
from kubefactory.operator.settings import OperatorSettings

OPERATOR = Path(REGISTRY["Dataset"].observe.__code__.co_filename).resolve().parents[1]
KIND_NAMES = {kind.name for kind in KINDS}


def test_one_row_per_kind_of_the_api() -> None:
    assert [row.kind for row in ROWS] == list(REGISTRY)
    assert set(REGISTRY) == KIND_NAMES == {"Dataset", "FineTuneJob", "ModelServer"}


def test_the_api_client_and_rbac_know_every_row_and_child() -> None:
    granted = {
        (group, resource) for rule in rules() for group in rule["apiGroups"] for resource in rule["resources"]
    }
    for row in ROWS:
        assert RESOURCES[(row.api_version, row.kind)] == (row.plural, True)
        assert ("kubefactory.io", row.plural) in granted and (
            "kubefactory.io",
            f"{row.plural}/status",
        ) in granted
    for child in child_kinds():
        assert RESOURCES[(child.api_version, child.kind)] == (child.plural, True)
        assert (child.group, child.plural) in granted


def test_watched_children_are_those_whose_changes_matter() -> None:
    assert {child.kind for child in watched_children()} == {"Job", "Pod", "ConfigMap", "Deployment"}


def test_references_lead_from_the_awaited_kind_to_the_waiting_one() -> None:
    assert [(row.kind, ref.kind) for row, ref in referrers("Dataset")] == [("FineTuneJob", "Dataset")]
    assert [(row.kind, ref.kind) for row, ref in referrers("FineTuneJob")] == [("ModelServer", "FineTuneJob")]
    assert referrers("ModelServer") == []
    _, datasets = referrers("Dataset")[0]
    spec = {"datasets": [{"name": "a"}], "evalDatasets": [{"name": "b"}, {"bad": 1}]}
    assert datasets.names(spec) == ["a", "b"]


def _kind_literals(file: Path) -> list[str]:
    return [
        f"{file.name}:{node.lineno} {node.value!r}"
        for node in ast.walk(ast.parse(file.read_text()))
        if isinstance(node, ast.Constant) and node.value in KIND_NAMES
    ]


def test_no_string_dispatch_on_the_kind() -> None:
    """Outside the registry and the API modules, nothing names a kind to decide what to do."""
    readers = ["controller.py", "handlers.py", "kube.py", "rbac.py", "naming.py"]
    found = [hit for name in readers for hit in _kind_literals(OPERATOR / name)]
    assert not found, "\n".join(found)
    assert _kind_literals(OPERATOR / "registry.py")  # the scan sees kind names where they belong


class Recorder(Controller):
    """A controller whose reconciles are only recorded, over a fixed listing."""

    def __init__(self, listing: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__(None, OperatorSettings())  # type: ignore[arg-type]
        self.listing = listing
        self.triggered: list[tuple[str, str, str]] = []

    def candidates(self, row: Any, namespace: str) -> list[dict[str, Any]]:
        return self.listing.get(row.kind, [])

    def trigger(self, kind: str, namespace: str, name: str) -> None:
        self.triggered.append((kind, namespace, name))


def test_a_changed_dataset_triggers_the_jobs_that_wait_for_it() -> None:
    jobs = [
        {"metadata": {"name": "uses-it"}, "spec": {"datasets": [{"name": "d"}]}},
        {
            "metadata": {"name": "evaluates-on-it"},
            "spec": {"datasets": [{"name": "x"}], "evalDatasets": [{"name": "d"}]},
        },
        {"metadata": {"name": "other"}, "spec": {"datasets": [{"name": "x"}]}},
    ]
    controller = Recorder({"FineTuneJob": jobs})
    controller.trigger_referrers("Dataset", "team-a", "d")
    assert controller.triggered == [
        ("FineTuneJob", "team-a", "uses-it"),
        ("FineTuneJob", "team-a", "evaluates-on-it"),
    ]


def test_a_changed_finetunejob_triggers_the_servers_that_serve_it() -> None:
    servers: list[dict[str, Any]] = [
        {"metadata": {"name": "chat"}, "spec": {"fineTuneJob": {"name": "sft"}}},
        {
            "metadata": {"name": "multi"},
            "spec": {"adapters": [{"name": "a", "fineTuneJob": {"name": "sft"}}]},
        },
        {"metadata": {"name": "base"}, "spec": {"model": "hf://x"}},
    ]
    controller = Recorder({"ModelServer": servers})
    controller.trigger_referrers("FineTuneJob", "team-a", "sft")
    assert controller.triggered == [("ModelServer", "team-a", "chat"), ("ModelServer", "team-a", "multi")]
