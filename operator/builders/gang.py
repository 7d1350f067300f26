"""Volcano gang scheduling: a PodGroup per attempt, so every node starts together or none does."""

from __future__ import annotations

from typing import Any

from .inputs import TrainingInputs

PODGROUP_API_VERSION = "scheduling.volcano.sh/v1beta1"


def pod_group(inputs: TrainingInputs) -> dict[str, Any] | None:
    gang = inputs.spec.scheduling.gang
    if gang is None:
        return None
    resources = inputs.spec.resources
    nodes = resources.nodes
    total: dict[str, str] = {}
    if inputs.profile.resource:
        total[inputs.profile.resource] = str(nodes * resources.accelerators_per_node)
    spec: dict[str, Any] = {"minMember": nodes}
    if total:
        spec["minResources"] = total
    if gang.queue:
        spec["queue"] = gang.queue
    if inputs.spec.scheduling.priority_class_name:
        spec["priorityClassName"] = inputs.spec.scheduling.priority_class_name
    return {
        "apiVersion": PODGROUP_API_VERSION,
        "kind": "PodGroup",
        "metadata": inputs.owner.metadata(inputs.job_name, "gang"),
        "spec": spec,
    }
