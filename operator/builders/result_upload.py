"""The upload Job: a FineTuneJob's result to ``spec.output.bucket``, once its training Job succeeded.

One pod, ``kubefactory upload /kubefactory/output s3://bucket/prefix``, with the output claim (the
job's folder on it) mounted read-only and the bucket's Secret as its environment. The runtime
uploads every file and then the marker object listing them, so a reader never takes a half-done
upload; the termination message is the upload report (files, bytes, digest) or why it failed.
Not applied by the reconcile yet: the local runner (``kubefactory run``) runs it after training.
"""

from __future__ import annotations

from typing import Any

from ..naming import dns_label
from ..settings import OperatorSettings
from .inputs import TrainingInputs
from .layout import OUTPUT_DIR, TERMINATION_LOG
from .pod_common import claim_volume, container_security, merge_tolerations, pod_security, pull_secrets

UPLOAD_CONTAINER = "upload"
COMPONENT = "result-upload"


def upload_job_name(inputs: TrainingInputs) -> str:
    return dns_label(inputs.job_name, "-upload")


def upload_command(uri: str) -> list[str]:
    return ["kubefactory", "upload", OUTPUT_DIR, uri, "--termination-log", TERMINATION_LOG]


def upload_job(inputs: TrainingInputs, settings: OperatorSettings) -> dict[str, Any] | None:
    """The Job, or None when the result stays on the claim."""
    bucket = inputs.spec.output.bucket
    if bucket is None:
        return None
    container: dict[str, Any] = {
        "name": UPLOAD_CONTAINER,
        "image": inputs.spec.image or settings.image_for(inputs.profile.vendor),
        "imagePullPolicy": settings.image_pull_policy,
        "command": upload_command(bucket.uri),
        "env": [{"name": "HOME", "value": "/tmp"}],
        "volumeMounts": [
            {"name": "output", "mountPath": OUTPUT_DIR, "subPath": inputs.output_sub_path, "readOnly": True}
        ],
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": container_security(),
    }
    if bucket.secret_ref is not None:
        container["envFrom"] = [{"secretRef": {"name": bucket.secret_ref.name}}]
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": pod_security(settings),
        "containers": [container],
        "volumes": [claim_volume("output", inputs.output_claim, read_only=True)],
        **pull_secrets(settings),
    }
    if tolerations := merge_tolerations(settings.tolerations()):
        pod_spec["tolerations"] = tolerations
    if selector := settings.node_selectors.get("cpu"):
        pod_spec["nodeSelector"] = dict(selector)  # no accelerator needed: where the Datasets are prepared
    name = upload_job_name(inputs)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": inputs.owner.metadata(name, COMPONENT),
        "spec": {
            "backoffLimit": 3,  # a network hiccup is worth a retry; the upload is idempotent
            "template": {
                "metadata": {"labels": inputs.owner.labels(COMPONENT)},
                "spec": pod_spec,
            },
        },
    }
