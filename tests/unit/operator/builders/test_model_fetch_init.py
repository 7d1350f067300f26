"""The model fetch init container, added to a real trainer pod template (a pure transform)."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.builders.model_fetch import (
    FETCH_CONTAINER,
    FETCHED_DIR,
    FETCHED_MODEL,
    MODEL_CACHE_DIR,
    model_cache_claim,
    needs_fetch,
    with_model_fetch,
)
from kubefactory.operator.builders.trainer_pod import trainer_pod_template
from kubefactory.operator.settings import OperatorSettings


@pytest.mark.parametrize(
    ("uri", "fetched"),
    [
        ("hf://Qwen/Qwen2.5-0.5B-Instruct", True),
        ("hf://Qwen/Qwen2.5-0.5B-Instruct@v1", True),
        ("s3://models/qwen", True),
        ("pvc://models/tiny", False),
        ("/models/in-the-image", False),
    ],
)
def test_only_hub_and_bucket_models_are_fetched(uri: str, fetched: bool) -> None:
    assert needs_fetch(uri) is fetched


def test_the_init_container_fetches_into_the_cache_and_links_the_model(
    make_inputs: Any, settings: OperatorSettings
) -> None:
    template = trainer_pod_template(make_inputs(), settings)
    uri = "hf://Qwen/Qwen2.5-0.5B-Instruct@v1"
    fetched = with_model_fetch(template, uri, "kubefactory-model-cache", secret_name="hf-token")
    assert "initContainers" not in template["spec"]  # the input is not changed
    (init,) = fetched["spec"]["initContainers"]
    assert init["name"] == FETCH_CONTAINER and init["image"] == template["spec"]["containers"][0]["image"]
    assert init["command"] == [
        "kubefactory", "fetch", uri, "--cache", MODEL_CACHE_DIR, "--link", FETCHED_MODEL,
        "--termination-log", "/dev/termination-log",
    ]  # fmt: skip
    assert init["envFrom"] == [{"secretRef": {"name": "hf-token"}}]
    volumes = {v["name"]: v for v in fetched["spec"]["volumes"]}
    assert volumes["model-cache"]["persistentVolumeClaim"] == {"claimName": "kubefactory-model-cache"}
    assert volumes["fetched"] == {"name": "fetched", "emptyDir": {}}
    trainer_mounts = {m["mountPath"]: m for m in fetched["spec"]["containers"][0]["volumeMounts"]}
    assert trainer_mounts[MODEL_CACHE_DIR]["readOnly"] and trainer_mounts[FETCHED_DIR]["readOnly"]
    init_mounts = {m["mountPath"]: m for m in init["volumeMounts"]}
    assert not init_mounts[MODEL_CACHE_DIR].get("readOnly")  # only the init container writes the cache


def test_a_result_in_a_bucket_is_read_only_once_its_upload_finished(
    make_inputs: Any, settings: OperatorSettings
) -> None:
    template = trainer_pod_template(make_inputs(), settings)
    fetched = with_model_fetch(template, "s3://results/run", "cache", require_marker=True)
    assert fetched["spec"]["initContainers"][0]["command"][-1] == "--require-marker"
    assert "envFrom" not in fetched["spec"]["initContainers"][0]


def test_the_cache_claim_belongs_to_no_single_resource() -> None:
    claim = model_cache_claim("kubefactory-model-cache", "200Gi", ["ReadWriteMany"], "nfs")
    assert "ownerReferences" not in claim["metadata"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "200Gi"}},
        "storageClassName": "nfs",
    }
