"""The training pod: one per node, running torchrun with the node's share of the processes.

Everything vendor-specific comes from the accelerator profile (resource, visible devices, backend,
image, driver mounts, tolerations). The torchrun environment is set in both spellings: the plain
one (``MASTER_ADDR``, ``NNODES``, ``NODE_RANK``...) and torchrun's own ``PET_*`` variables, which
``torchrun`` reads in place of its command-line flags. ``NODE_RANK`` is the pod's completion index.
"""

from __future__ import annotations

from typing import Any

from kubefactory.runtime.contract.names import DISTRIBUTED_BACKEND_ENV, PROGRESS_CONFIGMAP_ENV

from ..naming import LABEL_ATTEMPT
from ..quantity import half
from ..settings import OperatorSettings
from .inputs import TrainingInputs
from .layout import CONFIG_DIR, CONFIG_FILE, MODEL_DIR, OUTPUT_DIR, PROGRESS_FILE, SHM_DIR, TRAINER_CONTAINER
from .pod_common import (
    claim_volume,
    container_amounts,
    container_security,
    host_mounts,
    placement,
    pod_security,
    pull_secrets,
)
from .rendered_config import model_source

COMPLETION_INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
VOLCANO_GROUP_ANNOTATION = "scheduling.k8s.io/group-name"
COMPONENT = "trainer"


def _field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def torchrun_env(inputs: TrainingInputs) -> list[dict[str, Any]]:
    """MASTER_ADDR, MASTER_PORT, NNODES, NODE_RANK, NPROC_PER_NODE and WORLD_SIZE, then the PET_* twins."""
    resources = inputs.spec.resources
    values = {
        "MASTER_ADDR": inputs.master_addr,
        "MASTER_PORT": str(inputs.spec.distributed.master_port),
        "NNODES": str(resources.nodes),
        "NPROC_PER_NODE": str(resources.accelerators_per_node),
    }
    env = [{"name": name, "value": value} for name, value in values.items()]
    env.append(_field("NODE_RANK", COMPLETION_INDEX))
    env.append({"name": "WORLD_SIZE", "value": str(inputs.processes)})  # processes in all, as torch counts
    env += [{"name": f"PET_{name}", "value": value} for name, value in values.items()]
    env.append(_field("PET_NODE_RANK", COMPLETION_INDEX))
    return env


def accelerator_env(inputs: TrainingInputs) -> list[dict[str, Any]]:
    profile = inputs.profile
    devices = profile.devices(inputs.spec.resources.accelerators_per_node)
    env = [{"name": name, "value": devices} for name in profile.visible_devices]
    env += [
        {"name": "KUBEFACTORY_ACCELERATOR", "value": profile.vendor},
        {"name": DISTRIBUTED_BACKEND_ENV, "value": profile.backend},
    ]
    env += [{"name": name, "value": value} for name, value in sorted(profile.env.items())]
    return env


def runtime_env(inputs: TrainingInputs) -> list[dict[str, Any]]:
    """Who the pod is, and where node rank 0 publishes progress (see kubefactory report-progress)."""
    return [
        _field("POD_NAME", "metadata.name"),
        _field("POD_NAMESPACE", "metadata.namespace"),
        {"name": "KUBEFACTORY_ATTEMPT", "value": str(inputs.attempt)},
        {"name": PROGRESS_CONFIGMAP_ENV, "value": inputs.names.progress},
    ]


def shared_memory(inputs: TrainingInputs, settings: OperatorSettings) -> str:
    """/dev/shm: as asked, else half of the memory limit, else the operator's default."""
    resources = inputs.spec.resources
    if resources.shared_memory is not None:
        return str(resources.shared_memory)
    if resources.memory is not None:
        return half(resources.memory)
    return str(settings.default_shared_memory)


def container_resources(inputs: TrainingInputs) -> dict[str, Any]:
    resources = inputs.spec.resources
    return container_amounts(
        inputs.profile.resource, resources.accelerators_per_node, resources.cpu, resources.memory
    )


def trainer_command(inputs: TrainingInputs) -> list[str]:
    """torchrun (configured by PET_*), wrapped so node rank 0 publishes progress while it runs."""
    return [
        "kubefactory", "report-progress",
        "--file", PROGRESS_FILE,
        "--config-map", inputs.names.progress,
        "--",
        "torchrun", "--module", "kubefactory.runtime.cli", "train", CONFIG_FILE,
    ]  # fmt: skip


def volumes_and_mounts(
    inputs: TrainingInputs, settings: OperatorSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": inputs.names.config}},
        claim_volume("output", inputs.output_claim),
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shared_memory(inputs, settings)}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "output", "mountPath": OUTPUT_DIR, "subPath": inputs.output_sub_path},
        {"name": "dshm", "mountPath": SHM_DIR},
    ]
    for dataset in (*inputs.datasets, *inputs.eval_datasets):
        volumes.append(claim_volume(dataset.volume, dataset.claim, read_only=True))
        mounts.append({"name": dataset.volume, "mountPath": dataset.mount_path, "readOnly": True})
    model = model_source(inputs.spec.model)
    if model.claim:
        volumes.append(claim_volume("model", model.claim, read_only=True))
        mounts.append({"name": "model", "mountPath": MODEL_DIR, "readOnly": True})
    driver_volumes, driver_mounts = host_mounts(inputs.profile)
    volumes += driver_volumes
    mounts += driver_mounts
    return volumes, mounts


def training_placement(inputs: TrainingInputs, settings: OperatorSettings) -> dict[str, Any]:
    """The common placement, plus the gang scheduler when spec.scheduling.gang is set."""
    scheduling = inputs.spec.scheduling
    out = placement(inputs.profile, scheduling, settings)
    if scheduling.gang is not None:
        out["schedulerName"] = scheduling.gang.scheduler_name
    return out


def trainer_pod_template(inputs: TrainingInputs, settings: OperatorSettings) -> dict[str, Any]:
    volumes, mounts = volumes_and_mounts(inputs, settings)
    container: dict[str, Any] = {
        "name": TRAINER_CONTAINER,
        "image": inputs.spec.image or settings.image_for(inputs.profile.vendor),
        "imagePullPolicy": settings.image_pull_policy,
        "command": trainer_command(inputs),
        "env": [*torchrun_env(inputs), *accelerator_env(inputs), *runtime_env(inputs)],
        "ports": [{"name": "rendezvous", "containerPort": inputs.spec.distributed.master_port}],
        "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": container_security(),
    }
    if resources := container_resources(inputs):
        container["resources"] = resources
    if inputs.spec.output.bucket is not None and inputs.spec.output.bucket.secret_ref is not None:
        container["envFrom"] = [{"secretRef": {"name": inputs.spec.output.bucket.secret_ref.name}}]
    annotations = {**inputs.owner.metadata(inputs.job_name, COMPONENT)["annotations"]}
    if inputs.spec.scheduling.gang is not None:
        annotations[VOLCANO_GROUP_ANNOTATION] = inputs.job_name
    return {
        "metadata": {
            "labels": inputs.owner.labels(COMPONENT, {LABEL_ATTEMPT: str(inputs.attempt)}),
            "annotations": annotations,
        },
        "spec": {
            "restartPolicy": "Never",
            "subdomain": inputs.names.service,
            "serviceAccountName": inputs.names.trainer,
            # node rank 0's report-progress patches the progress ConfigMap: the one pod that needs a
            # token (one template serves every rank); the account may do nothing else
            "automountServiceAccountToken": True,
            "securityContext": pod_security(settings),
            "containers": [container],
            "volumes": volumes,
            **training_placement(inputs, settings),
            **pull_secrets(settings),
        },
    }
