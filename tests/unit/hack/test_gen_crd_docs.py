"""docs/crd-reference.md is current and documents every field of every kind (hack/gen_crd_docs.py)."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

from kubefactory.operator.api.crd import all_crds

REPO_ROOT = Path(__file__).resolve().parents[3]


def load(name: str) -> types.ModuleType:
    if "hack" not in sys.modules:  # hack/ is not installed; the repo root must not shadow `operator`
        hack = types.ModuleType("hack")
        hack.__path__ = [str(REPO_ROOT / "hack")]
        sys.modules["hack"] = hack
    return importlib.import_module(name)


gen = load("hack.gen_crd_docs")


def test_the_committed_reference_is_current() -> None:
    assert gen.TARGET.read_text() == gen.render(), "docs/crd-reference.md is stale: run `make docs`"


def test_every_field_and_rule_is_in_it() -> None:
    text = gen.render()
    for crd in all_crds().values():
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for part in ("spec", "status"):
            paths = [path for path, _, _ in gen.fields(schema["properties"][part], part)]
            assert paths, f"{crd['metadata']['name']} {part}: no fields found"
            for path in paths:
                assert f"| `{path}` |" in text, path
    assert "| `spec.source.configMap.name` | string (length ≥ 1, length ≤ 253), **required** |" in text
    assert "- `spec.source`: set exactly one of uri, pvc or configMap" in text


def test_types_read_plainly() -> None:
    assert (
        gen.type_of({"type": "array", "items": {"type": "string"}, "maxItems": 3})
        == "array of string (items ≤ 3)"
    )
    assert gen.type_of({"type": "object", "additionalProperties": {"type": "string"}}) == "map of string"
    assert gen.type_of({"type": "string", "enum": ["a", "b"]}) == "one of: `a`, `b`"
    assert gen.type_of({"x-kubernetes-int-or-string": True}) == "int or string"
