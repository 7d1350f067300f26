"""A Dataset's children: the claim that holds the prepared data and the Job that prepares it.

The Job runs ``kubefactory dataset prepare`` in the runtime image: it reads the source, checks
every row with the data layer's rules, writes the kept rows once as JSON lines and prints a report
to its termination message, which is how the operator learns the result without exec or volumes.
A new spec gets a new Job (its name carries a hash of the spec) and a new folder on the claim.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..api.dataset import DatasetSpec
from ..naming import Owner, dataset_claim, prepare_job
from ..settings import OperatorSettings
from .info_entries import source_entry
from .layout import DATA_DIR, PREPARE_CONTAINER, SOURCE_DIR, TERMINATION_LOG
from .pod_common import claim_volume, container_security, merge_tolerations, pod_security, pull_secrets

SPEC_HASH_ANNOTATION = "kubefactory.io/spec-hash"
COMPONENT = "dataset-prepare"


def spec_hash(spec: DatasetSpec) -> str:
    """A short, stable hash of everything that changes the prepared data."""
    canonical = json.dumps(spec.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def location(owner: Owner, spec: DatasetSpec) -> str:
    """Where the prepared data lives: ``pvc://<claim>/<spec hash>``."""
    return f"pvc://{dataset_claim(owner.name)}/{spec_hash(spec)}"


def data_claim(owner: Owner, settings: OperatorSettings) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": list(settings.dataset_access_modes),
        "resources": {"requests": {"storage": str(settings.dataset_size)}},
    }
    if settings.storage_class_name:
        spec["storageClassName"] = settings.storage_class_name
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": owner.metadata(dataset_claim(owner.name), "dataset-storage"),
        "spec": spec,
    }


def _source_volume(spec: DatasetSpec) -> list[dict[str, Any]]:
    source = spec.source
    if source.pvc is not None:
        return [claim_volume("source", source.pvc.claim_name, read_only=True)]
    if source.config_map is not None:
        config_map: dict[str, Any] = {"name": source.config_map.name}
        if source.config_map.key:
            config_map["items"] = [{"key": source.config_map.key, "path": source.config_map.key}]
        return [{"name": "source", "configMap": config_map}]
    return [{"name": "source", "emptyDir": {}}]  # fetched data lands here


def prepare_command(owner: Owner, spec: DatasetSpec) -> list[str]:
    wanted = source_entry(spec)
    command = [
        "kubefactory", "dataset", "prepare",
        "--name", owner.name,
        "--entry", json.dumps(wanted.entry, sort_keys=True),
        "--dataset-dir", SOURCE_DIR,
        "--output", f"{DATA_DIR}/{spec_hash(spec)}",
        "--termination-log", TERMINATION_LOG,
    ]  # fmt: skip
    if wanted.download:
        command += ["--download", wanted.download]
    return command


def prepare_job_manifest(owner: Owner, spec: DatasetSpec, settings: OperatorSettings) -> dict[str, Any]:
    digest = spec_hash(spec)
    metadata = owner.metadata(prepare_job(owner.name, digest), COMPONENT)
    metadata["annotations"][SPEC_HASH_ANNOTATION] = digest
    container: dict[str, Any] = {
        "name": PREPARE_CONTAINER,
        "image": settings.prepare_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": prepare_command(owner, spec),
        "volumeMounts": [
            {"name": "source", "mountPath": SOURCE_DIR, "readOnly": spec.source.uri is None},
            {"name": "data", "mountPath": DATA_DIR},
        ],
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": container_security(),
    }
    if spec.source.secret_ref is not None:
        container["envFrom"] = [{"secretRef": {"name": spec.source.secret_ref.name}}]
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": pod_security(settings),
        "containers": [container],
        "volumes": [*_source_volume(spec), claim_volume("data", dataset_claim(owner.name))],
        **pull_secrets(settings),
    }
    if tolerations := merge_tolerations(settings.tolerations()):
        pod_spec["tolerations"] = tolerations
    if selector := settings.node_selectors.get("cpu"):
        pod_spec["nodeSelector"] = dict(selector)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,  # bad data does not get better by trying again
            "template": {
                "metadata": {
                    "labels": owner.labels(COMPONENT),
                    "annotations": {**metadata["annotations"]},
                },
                "spec": pod_spec,
            },
        },
    }
