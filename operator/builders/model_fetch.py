"""Fetching a pod's model before it starts: an init container and a shared, content-keyed cache claim.

For a model named ``hf://owner/name[@revision]`` or ``s3://bucket/prefix``, the pod gets an init
container running ``kubefactory fetch URI --cache /kubefactory/model-cache --link
/kubefactory/fetched/model``: the content lands once per URI and revision on the cache claim (many
FineTuneJobs and ModelServers on one base model download it once; the runtime locks per content
key), and the pod reads it through the link in its own emptyDir, a path fixed before the content
is known. The init container's termination message is the fetch report (bytes, files, digest,
seconds) or its failure (reason and message), which :mod:`..status.model_fetch` turns into status.

Pure: :func:`with_model_fetch` takes a pod template and returns a new one; nothing else changes.
Not wired into the trainer and server builders yet (see the FineTuneJob ``model`` path they render).
"""

from __future__ import annotations

import copy
from typing import Any

from .layout import ROOT, TERMINATION_LOG
from .pod_common import claim_volume, container_security

MODEL_CACHE_DIR = f"{ROOT}/model-cache"  # the shared cache claim
FETCHED_DIR = f"{ROOT}/fetched"  # the pod's emptyDir holding the link
FETCHED_MODEL = f"{FETCHED_DIR}/model"  # what model_name_or_path points at
FETCH_CONTAINER = "fetch-model"
CACHE_VOLUME = "model-cache"
FETCHED_VOLUME = "fetched"
FETCHED_SCHEMES = ("hf", "s3")


def needs_fetch(uri: str) -> bool:
    """hf:// and s3:// are downloaded; pvc:// is mounted and a path is in the image."""
    return uri.partition("://")[0] in FETCHED_SCHEMES and "://" in uri


def fetch_command(uri: str, require_marker: bool = False) -> list[str]:
    command = [
        "kubefactory", "fetch", uri,
        "--cache", MODEL_CACHE_DIR,
        "--link", FETCHED_MODEL,
        "--termination-log", TERMINATION_LOG,
    ]  # fmt: skip
    return [*command, "--require-marker"] if require_marker else command


def fetch_init_container(
    uri: str,
    image: str,
    image_pull_policy: str,
    secret_name: str | None = None,
    require_marker: bool = False,
) -> dict[str, Any]:
    """The init container; ``secret_name`` gives it HF_TOKEN or the AWS_* variables (and endpoints)."""
    container: dict[str, Any] = {
        "name": FETCH_CONTAINER,
        "image": image,
        "imagePullPolicy": image_pull_policy,
        "command": fetch_command(uri, require_marker),
        "env": [
            {"name": "HOME", "value": "/tmp"},
            {"name": "HF_HUB_DISABLE_PROGRESS_BARS", "value": "1"},
        ],
        "volumeMounts": [
            {"name": CACHE_VOLUME, "mountPath": MODEL_CACHE_DIR},
            {"name": FETCHED_VOLUME, "mountPath": FETCHED_DIR},
        ],
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": container_security(),
    }
    if secret_name:
        container["envFrom"] = [{"secretRef": {"name": secret_name}}]
    return container


def with_model_fetch(
    template: dict[str, Any],
    uri: str,
    cache_claim: str,
    secret_name: str | None = None,
    require_marker: bool = False,
) -> dict[str, Any]:
    """The pod template with the fetch init container first, and the model readable by every container.

    The image and pull policy are the first container's (the runtime image has ``kubefactory``).
    """
    out = copy.deepcopy(template)
    spec = out["spec"]
    first = spec["containers"][0]
    init = fetch_init_container(
        uri, first["image"], first.get("imagePullPolicy", "IfNotPresent"), secret_name, require_marker
    )
    spec["initContainers"] = [init, *spec.get("initContainers", [])]
    spec["volumes"] = [
        *spec.get("volumes", []),
        claim_volume(CACHE_VOLUME, cache_claim),
        {"name": FETCHED_VOLUME, "emptyDir": {}},
    ]
    for container in spec["containers"]:
        container["volumeMounts"] = [
            *container.get("volumeMounts", []),
            {"name": CACHE_VOLUME, "mountPath": MODEL_CACHE_DIR, "readOnly": True},
            {"name": FETCHED_VOLUME, "mountPath": FETCHED_DIR, "readOnly": True},
        ]
    return out


def model_cache_claim(
    name: str, size: str, access_modes: list[str], storage_class: str | None
) -> dict[str, Any]:
    """The shared cache claim: ReadWriteMany so pods on every node read it; owned by no custom resource."""
    spec: dict[str, Any] = {"accessModes": list(access_modes), "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "kubefactory", "app.kubernetes.io/component": "model-cache"},
        },
        "spec": spec,
    }
