"""How training progress reaches the operator, with the least privilege that works.

Node rank 0 (``kubefactory report-progress``) copies the runtime's progress record into one
ConfigMap, ``<job>-progress``. The training pods run as ``<job>-trainer``, a ServiceAccount whose
only right is get/patch/update on that one ConfigMap (``resourceNames``): they cannot read or
write anything else, not even other jobs' progress. The operator watches the ConfigMap; no exec,
no volume access, no network path from the operator to the pods. Tests drive it the same way, by
patching the ConfigMap as the runtime would.
"""

from __future__ import annotations

from typing import Any

from kubefactory.runtime.contract.names import PROGRESS_KEY

from .inputs import TrainingInputs

__all__ = [
    "PROGRESS_KEY",
    "progress_config_map",
    "trainer_role",
    "trainer_role_binding",
    "trainer_service_account",
]


def progress_config_map(inputs: TrainingInputs) -> dict[str, Any]:
    """Created empty: its data belongs to the trainer (server-side apply leaves it alone)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": inputs.owner.metadata(inputs.names.progress, "progress"),
    }


def trainer_service_account(inputs: TrainingInputs) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": inputs.owner.metadata(inputs.names.trainer, "trainer"),
    }


def trainer_role(inputs: TrainingInputs) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": inputs.owner.metadata(inputs.names.trainer, "trainer"),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": [inputs.names.progress],
                "verbs": ["get", "patch", "update"],
            }
        ],
    }


def trainer_role_binding(inputs: TrainingInputs) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": inputs.owner.metadata(inputs.names.trainer, "trainer"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": inputs.names.trainer},
        "subjects": [
            {"kind": "ServiceAccount", "name": inputs.names.trainer, "namespace": inputs.owner.namespace}
        ],
    }
