"""The merge Job: ``kubefactory export`` folds a FineTuneJob's LoRA adapter into its base model.

It runs on a CPU node in the runtime image (merging needs memory, not accelerators) and writes
``/kubefactory/merged/<digest>`` on the ModelServer's merged claim; the export appears there only
when complete. The digest covers the base, the adapter and the FineTuneJob's result, so a new
result gets a new Job and a new folder while the running server keeps the old one.
"""

from __future__ import annotations

from typing import Any

from ..settings import OperatorSettings
from .layout import CACHE_DIR, CONFIG_DIR, MERGE_CONFIG_FILE, MERGE_CONTAINER, MERGED_DIR, TMP_DIR
from .pod_common import claim_volume, container_security, merge_tolerations, pod_security, pull_secrets
from .server_deployment import claim_volumes, scratch_env
from .serving_inputs import MERGE_COMPONENT, ServingInputs, pod_path

DIGEST_ANNOTATION = "kubefactory.io/merge-digest"


def merge_job(inputs: ServingInputs, settings: OperatorSettings) -> dict[str, Any]:
    merge = inputs.merge
    if merge is None:
        raise ValueError("merge_job needs inputs with a merge")
    claims = sorted({c for c in (pod_path(merge.base_uri).claim, pod_path(merge.adapter_uri).claim) if c})
    volumes, mounts = claim_volumes(claims)
    volumes += [
        {"name": "config", "configMap": {"name": inputs.names.config}},
        claim_volume("merged", inputs.names.merged),
        {"name": "tmp", "emptyDir": {}},
        {"name": "cache", "emptyDir": {}},
    ]
    mounts += [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "merged", "mountPath": MERGED_DIR},
        {"name": "tmp", "mountPath": TMP_DIR},
        {"name": "cache", "mountPath": CACHE_DIR},
    ]
    metadata = inputs.owner.metadata(inputs.names.merge_job(merge.digest), MERGE_COMPONENT)
    metadata["annotations"][DIGEST_ANNOTATION] = merge.digest
    container: dict[str, Any] = {
        "name": MERGE_CONTAINER,
        "image": settings.prepare_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["kubefactory", "export", MERGE_CONFIG_FILE],
        "env": scratch_env(),
        "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": container_security(),
    }
    if inputs.spec.resources.memory is not None:
        memory = str(inputs.spec.resources.memory)
        container["resources"] = {"requests": {"memory": memory}, "limits": {"memory": memory}}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": pod_security(settings),
        "containers": [container],
        "volumes": volumes,
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
            "backoffLimit": 1,  # one more try for a lost node; a bad adapter fails the same way twice
            "template": {
                "metadata": {
                    "labels": inputs.owner.labels(MERGE_COMPONENT),
                    "annotations": {**metadata["annotations"]},
                },
                "spec": pod_spec,
            },
        },
    }
