"""The operator's RBAC, as data: exactly the rules it needs, nothing more.

``cluster_role()`` is what the Helm chart installs and what the integration tests bind to the
restricted ``kubefactory-operator`` identity before running every journey with it, so a rule
missing here fails a test rather than a user's cluster.
"""

from __future__ import annotations

from typing import Any

from .api import API_GROUP
from .registry import OWN, READ, ROWS, child_kinds

NAME = "kubefactory-operator"
__all__ = ["NAME", "OWN", "READ", "cluster_role", "rules"]


def rules() -> list[dict[str, Any]]:
    """From the kind registry: the custom resources (read; write only their status), then each
    kind of child with the verbs its row grants (grouped by API group), then events."""
    plurals = [row.plural for row in ROWS]
    out: list[dict[str, Any]] = [
        {"apiGroups": [API_GROUP], "resources": plurals, "verbs": list(READ)},
        {
            "apiGroups": [API_GROUP],
            "resources": [f"{plural}/status" for plural in plurals],
            "verbs": ["get", "patch", "update"],
        },
    ]
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for child in child_kinds():
        grouped.setdefault((child.group, child.verbs), []).append(child.plural)
    out += [
        {"apiGroups": [group], "resources": resources, "verbs": list(verbs)}
        for (group, verbs), resources in grouped.items()
    ]
    out.append({"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]})
    return out


def cluster_role(name: str = NAME) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "kubefactory", "app.kubernetes.io/component": "operator"},
        },
        "rules": rules(),
    }


def cluster_role_binding(subject: dict[str, str], name: str = NAME) -> dict[str, Any]:
    """Bind the ClusterRole to ``subject`` (a ServiceAccount or, in tests, a User)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [subject],
    }


# --- leader election: one Lease in the operator's own namespace --------------------------------

LEASE_GROUP = "coordination.k8s.io"


def leader_election_rules(lease_name: str) -> list[dict[str, Any]]:
    """Rights on the one Lease replicas elect a leader with; ``create`` cannot be limited to one name,
    so the Lease is made by whoever installs the operator (the chart) or by an operator that may."""
    return [
        {
            "apiGroups": [LEASE_GROUP],
            "resources": ["leases"],
            "resourceNames": [lease_name],
            "verbs": ["get", "patch", "update"],
        }
    ]


def role(namespace: str, rules: list[dict[str, Any]], name: str = NAME) -> dict[str, Any]:
    """The same rules as a namespaced Role (an operator that watches only given namespaces)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": cluster_role(name)["metadata"]["labels"],
        },
        "rules": rules,
    }


def role_binding(namespace: str, subject: dict[str, str], name: str = NAME) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [subject],
    }
