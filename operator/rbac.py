"""The operator's RBAC, as data: exactly the rules it needs, nothing more.

``cluster_role()`` is what the Helm chart installs and what the integration tests bind to the
restricted ``kubefactory-operator`` identity before running every journey with it, so a rule
missing here fails a test rather than a user's cluster.
"""

from __future__ import annotations

from typing import Any

from .api import API_GROUP
from .builders.gang import PODGROUP_API_VERSION

NAME = "kubefactory-operator"
READ = ["get", "list", "watch"]
OWN = [*READ, "create", "patch", "update", "delete"]


def rules() -> list[dict[str, Any]]:
    return [
        # the custom resources: read them, write only their status
        {"apiGroups": [API_GROUP], "resources": ["finetunejobs", "datasets", "modelservers"], "verbs": READ},
        {
            "apiGroups": [API_GROUP],
            "resources": ["finetunejobs/status", "datasets/status", "modelservers/status"],
            "verbs": ["get", "patch", "update"],
        },
        # children
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": OWN},
        {
            "apiGroups": [""],
            "resources": ["configmaps", "services", "persistentvolumeclaims", "serviceaccounts"],
            "verbs": OWN,
        },
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": OWN},
        # a ModelServer's server, its autoscaler and its disruption budget
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": OWN},
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": OWN},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": OWN},
        {"apiGroups": [PODGROUP_API_VERSION.split("/")[0]], "resources": ["podgroups"], "verbs": OWN},
        # pods are the Job controller's: the operator only watches them (exit codes, scheduling)
        {"apiGroups": [""], "resources": ["pods"], "verbs": READ},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ]


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
