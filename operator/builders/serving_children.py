"""A ModelServer's other children: Service, HorizontalPodAutoscaler, PodDisruptionBudget, ConfigMap, claim.

The autoscaler scales the **ModelServer** through its scale subresource (``spec.replicas``), not the
Deployment: the operator then applies one replica count, whoever set it — the user, ``kubectl
scale`` or the autoscaler — and never fights over the Deployment's.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..api import GROUP_VERSION
from ..settings import OperatorSettings
from .layout import MERGE_CONFIG_FILE, SERVE_CONFIG_FILE, SERVER_PORT
from .server_command import IN_FLIGHT_METRICS, serve_config
from .serving_inputs import MERGE_COMPONENT, SERVER_COMPONENT, ServingInputs, pod_path

DEFAULT_CPU_UTILIZATION = 80  # what an autoscaler without metrics would use


def server_service(inputs: ServingInputs) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": inputs.owner.metadata(inputs.names.server, SERVER_COMPONENT),
        "spec": {
            "type": "ClusterIP",
            "selector": inputs.selector(),
            "ports": [
                {
                    "name": "http",
                    "port": SERVER_PORT,
                    "targetPort": "http",
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
        },
    }


def autoscaler(inputs: ServingInputs) -> dict[str, Any] | None:
    scaling = inputs.spec.autoscaling
    if scaling is None:
        return None
    metrics: list[dict[str, Any]] = []
    cpu = scaling.target_cpu_utilization_percent
    if cpu is None and scaling.target_requests_per_replica is None:
        cpu = DEFAULT_CPU_UTILIZATION
    if cpu is not None:
        target = {"type": "Utilization", "averageUtilization": cpu}
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": target}})
    if scaling.target_requests_per_replica is not None:
        metric = {"name": IN_FLIGHT_METRICS[inputs.spec.engine]}
        target = {"type": "AverageValue", "averageValue": str(scaling.target_requests_per_replica)}
        metrics.append({"type": "Pods", "pods": {"metric": metric, "target": target}})
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": inputs.owner.metadata(inputs.names.server, SERVER_COMPONENT),
        "spec": {
            "scaleTargetRef": {"apiVersion": GROUP_VERSION, "kind": "ModelServer", "name": inputs.owner.name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": metrics,
        },
    }


def disruption_budget(inputs: ServingInputs) -> dict[str, Any] | None:
    """One replica at a time may be evicted, when there are several (with one, a drain must proceed)."""
    scaling = inputs.spec.autoscaling
    most = max(inputs.spec.replicas, scaling.min_replicas if scaling else 0)
    if most <= 1:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": inputs.owner.metadata(inputs.names.server, SERVER_COMPONENT),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": inputs.selector()}},
    }


def merge_config(inputs: ServingInputs) -> dict[str, Any] | None:
    """``kubefactory export``'s config: the FineTuneJob's adapter merged into its base."""
    merge = inputs.merge
    if merge is None:
        return None
    config: dict[str, Any] = {
        "model_name_or_path": pod_path(merge.base_uri).path,
        "adapter_name_or_path": pod_path(merge.adapter_uri).path,
        "export_dir": merge.export_dir,
    }
    if inputs.template:
        config["template"] = inputs.template
    return config


def config_files(inputs: ServingInputs) -> dict[str, str]:
    """File name → content of the ConfigMap; empty when no container reads a config."""
    files: dict[str, str] = {}
    if inputs.spec.engine == "huggingface":
        files[SERVE_CONFIG_FILE.rsplit("/", 1)[-1]] = yaml.safe_dump(serve_config(inputs), sort_keys=True)
    if (merge := merge_config(inputs)) is not None:
        files[MERGE_CONFIG_FILE.rsplit("/", 1)[-1]] = yaml.safe_dump(merge, sort_keys=True)
    return files


def config_map(inputs: ServingInputs, files: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": inputs.owner.metadata(inputs.names.config, "serving-config"),
        "data": dict(files),
    }


def merged_claim(inputs: ServingInputs, settings: OperatorSettings) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": list(settings.output_access_modes),
        "resources": {"requests": {"storage": str(settings.output_size)}},
    }
    if settings.storage_class_name:
        spec["storageClassName"] = settings.storage_class_name
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": inputs.owner.metadata(inputs.names.merged, MERGE_COMPONENT),
        "spec": spec,
    }
