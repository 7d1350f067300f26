"""Every manifest users copy from examples/ validates, and the API models round-trip it unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubefactory.operator.api import GROUP_VERSION, parse

REPO = Path(__file__).resolve().parents[4]
FOLDERS = [REPO / "examples" / "manifests" / vendor for vendor in ("nvidia", "amd", "ascend", "cpu")]
FOLDERS.append(REPO / "examples" / "quickstart")
DOCUMENTS = [
    (path, index, document)
    for folder in FOLDERS
    for path in sorted(folder.glob("*.yaml"))
    for index, document in enumerate(yaml.safe_load_all(path.read_text()))
]


def test_each_folder_has_a_dataset_a_finetunejob_and_a_modelserver() -> None:
    for folder in FOLDERS:
        kinds = sorted(doc["kind"] for path, _, doc in DOCUMENTS if path.parent == folder)
        assert kinds == ["Dataset", "FineTuneJob", "ModelServer"], folder


@pytest.mark.parametrize(
    ("path", "index", "document"), DOCUMENTS, ids=[f"{p.parent.name}/{p.name}#{i}" for p, i, _ in DOCUMENTS]
)
def test_example_validates_and_round_trips(path: Path, index: int, document: dict[str, Any]) -> None:
    assert document["apiVersion"] == GROUP_VERSION
    resource = parse(document)
    assert resource.model_dump(by_alias=True, exclude_unset=True, mode="json") == document


def test_references_inside_a_folder_resolve() -> None:
    """`kubectl apply -f <folder>` gives a working set: what a FineTuneJob or ModelServer names is there."""
    for folder in FOLDERS:
        names = {
            (doc["kind"], doc["metadata"]["name"]) for path, _, doc in DOCUMENTS if path.parent == folder
        }
        for path, _, doc in DOCUMENTS:
            if path.parent != folder:
                continue
            spec = doc["spec"]
            wanted = [("Dataset", ref["name"]) for ref in spec.get("datasets", [])]
            wanted += [("FineTuneJob", spec["fineTuneJob"]["name"])] if "fineTuneJob" in spec else []
            wanted += [
                ("FineTuneJob", a["fineTuneJob"]["name"])
                for a in spec.get("adapters", [])
                if "fineTuneJob" in a
            ]
            assert set(wanted) <= names, f"{path}: {set(wanted) - names}"
