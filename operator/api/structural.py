"""Pydantic JSON schema → a structural OpenAPI v3 schema the Kubernetes API server accepts.

Structural means: every node has a type (or is explicitly int-or-string or free-form), no ``$ref``,
no ``anyOf`` branches with types, ``minimum`` plus a boolean ``exclusiveMinimum`` (OpenAPI v3.0),
and no ``additionalProperties`` next to ``properties``. Pure functions; anything this module does
not know how to translate is an error rather than something silently dropped.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# JSON schema keywords copied as they are (value validations and Kubernetes extensions)
PASS_THROUGH = {
    "description",
    "type",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "default",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
}
DROPPED = {"title", "examples", "$defs"}
HANDLED = {
    "uniqueItems",
    "$ref",
    "anyOf",
    "const",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "properties",
    "required",
    "items",
    "additionalProperties",
}

UNION_TYPES = "x-union-types"  # internal: the JSON types a free-form union accepts
TYPE_WORDS = {
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
}


class SchemaError(ValueError):
    """A JSON schema construct with no structural translation."""


def to_structural(schema: Schema, defs: dict[str, Schema] | None = None, path: str = "") -> Schema:
    """Translate one node (and everything below it); ``defs`` resolves ``$ref``."""
    defs = {**(defs or {}), **schema.get("$defs", {})}
    unknown = set(schema) - PASS_THROUGH - DROPPED - HANDLED
    if unknown:
        raise SchemaError(f"{path or '<root>'}: no structural translation for {sorted(unknown)}")
    if "$ref" in schema:
        return ordered(
            _merge(to_structural(_resolve(schema["$ref"], defs), defs, path), _siblings(schema, defs, path))
        )
    if "anyOf" in schema:
        out = _merge(_union(schema["anyOf"], defs, path), _siblings(schema, defs, path))
        if types := out.pop(UNION_TYPES, None):
            out["description"] = (
                f"{out.get('description', '').rstrip()} Accepts {union_words(types)}.".lstrip()
            )
        return ordered(out)
    out = _siblings(schema, defs, path)
    if "const" in schema:
        out["enum"] = [schema["const"]]
    if out.get("type") == "object" or "properties" in schema:
        out.update(_object(schema, defs, path))
    if out.get("type") == "array":
        out["items"] = to_structural(schema.get("items", {}), defs, f"{path}[]")
        if schema.get(
            "uniqueItems"
        ):  # the API server refuses uniqueItems (quadratic); a set list is the same promise
            out.setdefault("x-kubernetes-list-type", "set")
    return ordered(out)


def _siblings(schema: Schema, defs: dict[str, Schema], path: str) -> Schema:
    """The node's own keywords: value validations kept, null defaults and exclusive bounds translated."""
    out = {key: value for key, value in schema.items() if key in PASS_THROUGH}
    if out.get("default", 0) is None:
        del out["default"]  # "absent" is how the API server spells None
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(schema.get(bound), (int, float)) and not isinstance(schema[bound], bool):
            out[limit] = schema[bound]
            out[bound] = True
    return out


def _resolve(ref: str, defs: dict[str, Schema]) -> Schema:
    name = ref.rsplit("/", 1)[-1]
    if name not in defs:
        raise SchemaError(f"unresolvable $ref {ref}")
    return defs[name]


def _merge(base: Schema, extra: Schema) -> Schema:
    """The field's own keywords win over the referenced model's; CEL rules of both are kept."""
    merged = {**base, **extra}
    rules = base.get("x-kubernetes-validations", []) + extra.get("x-kubernetes-validations", [])
    if rules:
        merged["x-kubernetes-validations"] = rules
    return merged


def _object(schema: Schema, defs: dict[str, Schema], path: str) -> Schema:
    out: Schema = {"type": "object"}
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    if properties:
        out["properties"] = {
            name: to_structural(sub, defs, f"{path}.{name}") for name, sub in properties.items()
        }
        required = [name for name in schema.get("required", []) if name in properties]
        if required:
            out["required"] = required
    elif isinstance(extra, dict) and extra:
        out["additionalProperties"] = to_structural(extra, defs, f"{path}{{}}")
    else:  # a free-form mapping: dict[str, Any]
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _union(branches: list[Schema], defs: dict[str, Schema], path: str) -> Schema:
    """X | None → X; int | str → int-or-string; any other mix → free-form (see below)."""
    typed = [branch for branch in branches if branch.get("type") != "null"]
    if len(typed) == 1:
        return to_structural(typed[0], defs, path)
    converted = [to_structural(branch, defs, path) for branch in typed]
    types = [str(branch["type"]) for branch in converted if "type" in branch]
    if len(types) != len(converted):
        raise SchemaError(f"{path}: union of untyped branches {branches}")
    if sorted(types) == ["integer", "string"]:
        out: Schema = {"x-kubernetes-int-or-string": True}
        pattern = next((b["pattern"] for b in converted if "pattern" in b), None)
        return {**out, "pattern": pattern} if pattern else out
    # The API server can neither type-check nor run CEL on such a node: it is free-form, its
    # description says what is accepted, and pydantic (the operator) checks the type.
    return {"x-kubernetes-preserve-unknown-fields": True, UNION_TYPES: types}


def union_words(types: list[str]) -> str:
    words = [TYPE_WORDS[json_type] for json_type in types]
    return ", ".join(words[:-1]) + " or " + words[-1]


KEY_ORDER = (
    "description",
    "type",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "enum",
    "default",
)
TRAILING = ("properties", "additionalProperties", "items", "required", "x-kubernetes-validations")


def ordered(node: Schema) -> Schema:
    """The same node with its keys in reading order: what it is first, its children last."""
    head = [key for key in KEY_ORDER if key in node]
    tail = [key for key in TRAILING if key in node]
    middle = sorted(set(node) - set(head) - set(tail))
    return {key: node[key] for key in (*head, *middle, *tail)}


def walk(schema: Schema, path: str = "") -> list[tuple[str, Schema]]:
    """Every node of a structural schema with its path: properties, map values and list items."""
    nodes = [(path, schema)]
    for name, sub in schema.get("properties", {}).items():
        nodes += walk(sub, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        nodes += walk(schema["additionalProperties"], f"{path}{{}}")
    if isinstance(schema.get("items"), dict):
        nodes += walk(schema["items"], f"{path}[]")
    return nodes
