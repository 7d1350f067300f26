"""JSON schema → structural schema, one construct per row."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.api.structural import SchemaError, ordered, to_structural, walk

D = "a field"
RULE = {"rule": "self.a > 0", "message": "a must be positive"}

CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # (name, JSON schema, $defs, structural schema)
    ("scalar", {"type": "string", "title": "X", "description": D}, {}, {"description": D, "type": "string"}),
    ("optional drops the null branch and the null default",
     {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None, "description": D}, {},
     {"description": D, "type": "integer"}),
    ("int or string", {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+m$"}], "description": D}, {},
     {"description": D, "x-kubernetes-int-or-string": True, "pattern": "^[0-9]+m$"}),
    ("other unions are free-form and say what they accept",
     {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}], "description": "Targets."}, {},
     {"description": "Targets. Accepts a string or a list.", "x-kubernetes-preserve-unknown-fields": True}),
    ("literal", {"enum": ["a", "b"], "type": "string", "default": "a", "description": D}, {},
     {"description": D, "type": "string", "enum": ["a", "b"], "default": "a"}),
    ("const", {"const": "auto", "type": "string", "description": D}, {},
     {"description": D, "type": "string", "enum": ["auto"]}),
    ("exclusive bounds become OpenAPI v3.0 booleans",
     {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10, "description": D}, {},
     {"description": D, "type": "integer", "exclusiveMaximum": True, "exclusiveMinimum": True, "maximum": 10, "minimum": 0}),
    ("set of scalars", {"type": "array", "uniqueItems": True, "items": {"type": "integer"}, "description": D}, {},
     {"description": D, "type": "array", "x-kubernetes-list-type": "set", "items": {"type": "integer"}}),
    ("string map", {"type": "object", "additionalProperties": {"type": "string"}, "description": D}, {},
     {"description": D, "type": "object", "additionalProperties": {"type": "string"}}),
    ("free-form map", {"type": "object", "additionalProperties": True, "description": D}, {},
     {"description": D, "type": "object", "x-kubernetes-preserve-unknown-fields": True}),
    ("$ref is inlined; the field's description wins; CEL rules of both are kept",
     {"$ref": "#/$defs/M", "description": "The field.", "x-kubernetes-validations": [{"rule": "true", "message": "m"}]},
     {"M": {"type": "object", "description": "The model.", "additionalProperties": False, "required": ["a"],
            "properties": {"a": {"type": "integer", "description": "A."}}, "x-kubernetes-validations": [RULE]}},
     {"description": "The field.", "type": "object", "properties": {"a": {"description": "A.", "type": "integer"}},
      "required": ["a"], "x-kubernetes-validations": [RULE, {"rule": "true", "message": "m"}]}),
    ("optional model", {"anyOf": [{"$ref": "#/$defs/M"}, {"type": "null"}], "description": "The field."},
     {"M": {"type": "object", "description": "The model.", "properties": {"a": {"type": "string", "description": "A."}}}},
     {"description": "The field.", "type": "object", "properties": {"a": {"description": "A.", "type": "string"}}}),
    ("list of models", {"type": "array", "items": {"$ref": "#/$defs/M"}, "description": D},
     {"M": {"type": "object", "description": "The model.", "properties": {"a": {"type": "string", "description": "A."}}}},
     {"description": D, "type": "array",
      "items": {"description": "The model.", "type": "object", "properties": {"a": {"description": "A.", "type": "string"}}}}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "schema", "defs", "expected"), CASES, ids=[case[0] for case in CASES])
def test_to_structural(
    name: str, schema: dict[str, Any], defs: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert to_structural(schema, defs) == expected


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"oneOf": [{"type": "string"}], "description": D},
            r"\.x: no structural translation for \['oneOf'\]",
        ),
        ({"$ref": "#/$defs/Missing"}, "unresolvable \\$ref #/\\$defs/Missing"),
        ({"anyOf": [{"type": "string"}, {"enum": [1]}]}, r"\.x: union of untyped branches"),
    ],
)
def test_untranslatable_schemas_are_errors_not_silently_dropped(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        to_structural(schema, {}, ".x")


def test_ordered_puts_what_a_node_is_first_and_its_children_last() -> None:
    node = {
        "properties": {},
        "maxLength": 3,
        "type": "object",
        "description": D,
        "required": ["a"],
        "default": {},
    }
    assert list(ordered(node)) == ["description", "type", "default", "maxLength", "properties", "required"]


def test_walk_visits_properties_map_values_and_items() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "array", "items": {"type": "string"}},
            "b": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    }
    assert [path for path, _ in walk(schema)] == ["", ".a", ".a[]", ".b", ".b{}"]
