"""A Dataset's prepare Job and claim."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubefactory.operator.api.dataset import DatasetSpec
from kubefactory.operator.builders.prepare_job import data_claim, location, prepare_job_manifest, spec_hash
from kubefactory.operator.naming import Owner
from kubefactory.operator.settings import OperatorSettings

OWNER = Owner("Dataset", "identity", "team-a", "uid-d")
CONFIG_MAP = {"source": {"configMap": {"name": "identity-data", "key": "identity.json"}}}


def spec(**fields: Any) -> DatasetSpec:
    return DatasetSpec.model_validate({**CONFIG_MAP, **fields})


def test_spec_hash_is_stable_and_follows_the_spec() -> None:
    assert spec_hash(spec()) == spec_hash(spec())
    assert spec_hash(spec()) != spec_hash(spec(formatting="sharegpt"))
    assert len(spec_hash(spec())) == 16
    assert location(OWNER, spec()) == f"pvc://identity-data/{spec_hash(spec())}"


def test_the_job_runs_kubefactory_dataset_prepare(settings: OperatorSettings) -> None:
    job = prepare_job_manifest(OWNER, spec(), settings)
    digest = spec_hash(spec())
    assert job["metadata"]["name"] == f"identity-prepare-{digest[:8]}"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "Dataset"
    assert job["metadata"]["labels"]["kubefactory.io/dataset"] == "identity"
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    command = container["command"]
    assert command[:3] == ["kubefactory", "dataset", "prepare"]
    args = dict(zip(command[3::2], command[4::2], strict=True))
    assert json.loads(args["--entry"]) == {"file_name": "identity.json", "formatting": "alpaca"}
    assert args["--output"] == f"/kubefactory/data/{digest}"
    assert args["--termination-log"] == container["terminationMessagePath"] == "/dev/termination-log"
    assert container["image"] == settings.prepare_image
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["automountServiceAccountToken"] is False  # preparing data needs no API access
    assert pod["tolerations"] == settings.tolerations()
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["source"]["configMap"] == {
        "name": "identity-data",
        "items": [{"key": "identity.json", "path": "identity.json"}],
    }
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "identity-data"}


@pytest.mark.parametrize(
    ("source", "volume", "env_from", "download"),
    [
        ({"pvc": {"claimName": "raw", "path": "a.json"}}, {"persistentVolumeClaim": {"claimName": "raw", "readOnly": True}}, None, None),
        ({"uri": "hf://org/data", "secretRef": {"name": "hf-token"}}, {"emptyDir": {}}, [{"secretRef": {"name": "hf-token"}}], None),
        ({"uri": "https://example.com/a.jsonl"}, {"emptyDir": {}}, None, "https://example.com/a.jsonl"),
    ],
)  # fmt: skip
def test_each_source_is_mounted_or_fetched(
    settings: OperatorSettings,
    source: dict[str, Any],
    volume: dict[str, Any],
    env_from: Any,
    download: str | None,
) -> None:
    pod = prepare_job_manifest(OWNER, DatasetSpec.model_validate({"source": source}), settings)["spec"][
        "template"
    ]["spec"]
    source_volume = next(v for v in pod["volumes"] if v["name"] == "source")
    assert {k: v for k, v in source_volume.items() if k != "name"} == volume
    container = pod["containers"][0]
    assert container.get("envFrom") == env_from
    command = container["command"]
    assert (command[command.index("--download") + 1] if "--download" in command else None) == download


def test_data_claim_follows_the_settings() -> None:
    settings = OperatorSettings(
        dataset_size="20Gi", storage_class_name="fast", dataset_access_modes=["ReadWriteOnce"]
    )
    claim = data_claim(OWNER, settings)
    assert claim["metadata"]["name"] == "identity-data"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "20Gi"}},
        "storageClassName": "fast",
    }
