"""What every pod the operator creates shares: non-root security, tolerations, pull secrets."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

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
