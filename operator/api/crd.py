"""CustomResourceDefinitions, built from the API models: pure functions, dicts out."""

from __future__ import annotations

from typing import Any

from .common import API_GROUP, API_VERSION
from .kinds import KINDS, Kind
from .structural import Schema, to_structural

API_VERSION_TEXT = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values."
)
KIND_TEXT = "Kind is a string value representing the REST resource this object represents."


def open_api_schema(kind: Kind) -> Schema:
    """The structural schema of one kind: apiVersion, kind, metadata, spec and status."""
    model_schema = kind.model.model_json_schema(by_alias=True)
    defs = model_schema.get("$defs", {})
    properties = model_schema["properties"]
    return {
        "type": "object",
        "description": model_schema["description"],
        "properties": {
            "apiVersion": {"type": "string", "description": API_VERSION_TEXT},
            "kind": {"type": "string", "description": KIND_TEXT},
            "metadata": {"type": "object"},
            "spec": to_structural(properties["spec"], defs, ".spec"),
            "status": to_structural(properties["status"], defs, ".status"),
        },
        "required": ["spec"],
    }


def subresources(kind: Kind) -> dict[str, Any]:
    out: dict[str, Any] = {"status": {}}
    if kind.scale:
        out["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        }
    return out


def crd(kind: Kind) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{API_GROUP}",
            "labels": {"app.kubernetes.io/name": "kubefactory", "app.kubernetes.io/part-of": "kubefactory"},
        },
        "spec": {
            "group": API_GROUP,
            "names": {
                "kind": kind.name,
                "listKind": f"{kind.name}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": list(kind.categories),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": open_api_schema(kind)},
                    "subresources": subresources(kind),
                    "additionalPrinterColumns": [column.to_crd() for column in kind.columns],
                }
            ],
        },
    }


def all_crds() -> dict[str, dict[str, Any]]:
    """File name → CRD, one per kind (file names as controller-gen spells them)."""
    return {f"{API_GROUP}_{kind.plural}.yaml": crd(kind) for kind in KINDS}
