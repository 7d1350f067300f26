"""What every pod the operator creates shares: non-root security, tolerations, pull secrets."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..api.common import Placement
from ..profiles import AcceleratorProfile
from ..settings import OperatorSettings


def pod_security(settings: OperatorSettings) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": settings.run_as_user,
        "runAsGroup": settings.run_as_group,
        "fsGroup": settings.fs_group,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def merge_tolerations(*groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tolerations of every group in order, each once."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for group in groups:
        for toleration in group:
            key = json.dumps(toleration, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(dict(toleration))
    return out


def pull_secrets(settings: OperatorSettings) -> dict[str, Any]:
    if not settings.image_pull_secrets:
        return {}
    return {"imagePullSecrets": [{"name": name} for name in settings.image_pull_secrets]}


def claim_volume(name: str, claim: str, read_only: bool = False) -> dict[str, Any]:
    source: dict[str, Any] = {"claimName": claim}
    if read_only:
        source["readOnly"] = True
    return {"name": name, "persistentVolumeClaim": source}


def placement(
    profile: AcceleratorProfile, scheduling: Placement, settings: OperatorSettings
) -> dict[str, Any]:
    """Tolerations, node selector, priority and affinity: the profile's, the operator's, the spec's."""
    spec_tolerations = [t.model_dump(by_alias=True, exclude_none=True) for t in scheduling.tolerations or []]
    out: dict[str, Any] = {}
    tolerations = merge_tolerations(profile.tolerations, settings.tolerations(), spec_tolerations)
    if tolerations:
        out["tolerations"] = tolerations
    selector = {**settings.node_selectors.get(profile.vendor, {}), **(scheduling.node_selector or {})}
    if selector:
        out["nodeSelector"] = selector
    if scheduling.priority_class_name:
        out["priorityClassName"] = scheduling.priority_class_name
    if scheduling.affinity:
        out["affinity"] = scheduling.affinity
    return out


def host_mounts(profile: AcceleratorProfile) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The profile's driver paths (Ascend), as volumes and read-only mounts at the same paths."""
    volumes, mounts = [], []
    for mount in profile.host_mounts:
        host_path: dict[str, Any] = {"path": mount.path}
        if mount.type:
            host_path["type"] = mount.type
        volumes.append({"name": mount.name, "hostPath": host_path})
        mounts.append({"name": mount.name, "mountPath": mount.path, "readOnly": True})
    return volumes, mounts


def container_amounts(resource: str | None, accelerators: int, cpu: object, memory: object) -> dict[str, Any]:
    """Requests equal to limits (Guaranteed where all are set): the accelerators, cpu and memory given."""
    amounts: dict[str, str] = {}
    if resource:
        amounts[resource] = str(accelerators)
    if cpu is not None:
        amounts["cpu"] = str(cpu)
    if memory is not None:
        amounts["memory"] = str(memory)
    return {"requests": dict(amounts), "limits": dict(amounts)} if amounts else {}
