"""The server Deployment: the engine behind probes suited to model loading, rolled without a gap.

- ``maxUnavailable: 0``: an old pod goes only once a new one is ready, so the endpoint always
  has a ready pod during a rollout; ``maxSurge: 1`` starts one new pod at a time.
- The startup probe gives a model up to an hour to download and load; only then do the readiness
  (out of the Service while unhealthy) and liveness (restart when stuck) probes count. All three ask
  the engine's ``/health``, which vLLM, SGLang and ``kubefactory api`` answer once the model is in.
- The pod template carries a digest of what it serves (the config, the FineTuneJob results), so a
  new result or a changed config rolls the pods even when the command reads the same.
- The root filesystem is read-only; HOME is ``/tmp`` and the hub cache an ``emptyDir``.
"""

from __future__ import annotations

from typing import Any

from kubefactory.runtime.contract.names import SERVER_DRAIN_MARGIN_SECONDS, SERVER_DRAIN_SECONDS

from ..quantity import half
from ..settings import OperatorSettings
from .layout import (
    CACHE_DIR,
    CLAIMS_DIR,
    CONFIG_DIR,
    HEALTH_PATH,
    SERVER_CONTAINER,
    SERVER_PORT,
    SHM_DIR,
    TMP_DIR,
)
from .pod_common import (
    claim_volume,
    container_amounts,
    container_security,
    host_mounts,
    placement,
    pod_security,
    pull_secrets,
)
from .server_command import server_command, server_env
from .serving_inputs import SERVER_COMPONENT, ServingInputs, claim_volume_name

REVISION_ANNOTATION = "kubefactory.io/revision"
STARTUP_SECONDS = 3600  # the longest a model may take to download and load
PROGRESS_DEADLINE_SECONDS = STARTUP_SECONDS + 600


def engine_image(inputs: ServingInputs, settings: OperatorSettings) -> str | None:
    """spec.image, else the operator's image for this engine and accelerator (None: there is none)."""
    return inputs.spec.image or settings.engine_image(inputs.spec.engine, inputs.profile.vendor)


def _probe(period: int, failures: int, timeout: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": HEALTH_PATH, "port": "http"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": timeout,
    }


def probes() -> dict[str, Any]:
    return {
        "startupProbe": _probe(10, STARTUP_SECONDS // 10, 5),
        "readinessProbe": _probe(5, 3, 5),
        "livenessProbe": _probe(15, 4, 10),
    }


def server_resources(inputs: ServingInputs) -> dict[str, Any]:
    resources = inputs.spec.resources
    return container_amounts(inputs.profile.resource, resources.accelerators, resources.cpu, resources.memory)


def shared_memory(inputs: ServingInputs, settings: OperatorSettings) -> str:
    resources = inputs.spec.resources
    if resources.shared_memory is not None:
        return str(resources.shared_memory)
    if resources.memory is not None:
        return half(resources.memory)
    return str(settings.default_shared_memory)


def scratch_volumes(inputs: ServingInputs, settings: OperatorSettings) -> tuple[list[Any], list[Any]]:
    """/tmp (HOME), the cache and /dev/shm: what a read-only root filesystem still needs to write."""
    volumes = [
        {"name": "tmp", "emptyDir": {}},
        {"name": "cache", "emptyDir": {}},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shared_memory(inputs, settings)}},
    ]
    mounts = [
        {"name": "tmp", "mountPath": TMP_DIR},
        {"name": "cache", "mountPath": CACHE_DIR},
        {"name": "dshm", "mountPath": SHM_DIR},
    ]
    return volumes, mounts


def scratch_env() -> list[dict[str, Any]]:
    return [
        {"name": "HOME", "value": TMP_DIR},
        {"name": "XDG_CACHE_HOME", "value": CACHE_DIR},
        {"name": "HF_HOME", "value": f"{CACHE_DIR}/huggingface"},
    ]


def claim_volumes(claims: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes = [claim_volume(claim_volume_name(claim), claim, read_only=True) for claim in claims]
    mounts = [
        {"name": claim_volume_name(claim), "mountPath": f"{CLAIMS_DIR}/{claim}", "readOnly": True}
        for claim in claims
    ]
    return volumes, mounts


def accelerator_env(inputs: ServingInputs) -> list[dict[str, Any]]:
    profile = inputs.profile
    devices = profile.devices(inputs.spec.resources.accelerators)
    env = [{"name": name, "value": devices} for name in profile.visible_devices]
    env.append({"name": "KUBEFACTORY_ACCELERATOR", "value": profile.vendor})
    env += [{"name": name, "value": value} for name, value in sorted(profile.env.items())]
    return env


def server_pod_template(inputs: ServingInputs, settings: OperatorSettings, image: str, revision: str) -> Any:
    volumes, mounts = claim_volumes(inputs.claims)
    if inputs.spec.engine == "huggingface":
        volumes.append({"name": "config", "configMap": {"name": inputs.names.config}})
        mounts.append({"name": "config", "mountPath": CONFIG_DIR, "readOnly": True})
    scratch, scratch_mounts = scratch_volumes(inputs, settings)
    drivers, driver_mounts = host_mounts(inputs.profile)
    container: dict[str, Any] = {
        "name": SERVER_CONTAINER,
        "image": image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": server_command(inputs),
        "env": [*server_env(inputs), *accelerator_env(inputs), *scratch_env()],
        "ports": [{"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"}],
        "volumeMounts": [*mounts, *scratch_mounts, *driver_mounts],
        **probes(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {**container_security(), "readOnlyRootFilesystem": True},
    }
    if resources := server_resources(inputs):
        container["resources"] = resources
    annotations = {**inputs.owner.metadata(inputs.names.server, SERVER_COMPONENT)["annotations"]}
    annotations[REVISION_ANNOTATION] = revision
    return {
        "metadata": {"labels": inputs.labels(), "annotations": annotations},
        "spec": {
            "automountServiceAccountToken": False,  # the engines never call the API server
            "enableServiceLinks": False,  # a Service named vllm would set VLLM_PORT, which vLLM reads
            "securityContext": pod_security(settings),
            "containers": [container],
            # the server drains requests in flight after SIGTERM; SIGKILL only after that
            "terminationGracePeriodSeconds": SERVER_DRAIN_SECONDS + SERVER_DRAIN_MARGIN_SECONDS,
            "volumes": [*volumes, *scratch, *drivers],
            **placement(inputs.profile, inputs.spec.scheduling, settings),
            **pull_secrets(settings),
        },
    }


def server_deployment(
    inputs: ServingInputs, settings: OperatorSettings, image: str, revision: str
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": inputs.owner.metadata(inputs.names.server, SERVER_COMPONENT),
        "spec": {
            "replicas": inputs.spec.replicas,
            "selector": {"matchLabels": inputs.selector()},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
            "revisionHistoryLimit": 3,
            "template": server_pod_template(inputs, settings, image, revision),
        },
    }
