"""Reading the manifests of `kubefactory run`: files and folders, --set overrides, --config-map."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from kubefactory.operator.local.manifests import (
    LocalRunError,
    apply_overrides,
    config_map_from_path,
    load,
    parse_override,
)

QUICKSTART = Path(__file__).resolve().parents[4] / "examples" / "quickstart"


def test_a_folder_is_read_as_kubectl_apply_reads_it() -> None:
    manifests = load([str(QUICKSTART)], [], [], "team-a")
    kinds = sorted(f"{type(r).__name__}/{r.metadata['name']}" for r in manifests.resources)
    assert kinds == ["Dataset/identity", "FineTuneJob/identity-lora", "ModelServer/identity"]
    assert all(r.metadata["namespace"] == "team-a" for r in manifests.resources)


def test_set_changes_one_field_of_one_object_before_validation() -> None:
    sets = [
        "FineTuneJob/identity-lora:spec.model=/models/tiny",
        "FineTuneJob/identity-lora:spec.training.num_train_epochs=2",
        "FineTuneJob/identity-lora:spec.resources.nodes=3",
    ]
    job = load([str(QUICKSTART)], sets, [], "default").find("FineTuneJob", "identity-lora")
    assert job is not None
    assert job.spec.model == "/models/tiny"  # type: ignore[attr-defined]
    assert job.spec.training["num_train_epochs"] == 2  # type: ignore[attr-defined]  # YAML: an int
    assert job.spec.resources.nodes == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spec.model=x", "KIND/NAME:path.to.field=VALUE"),
        ("FineTuneJob/x:spec.model", "KIND/NAME:path.to.field=VALUE"),
        ("Deployment/x:spec.replicas=2", "Deployment is not one of Dataset, FineTuneJob, ModelServer"),
    ],
)
def test_a_malformed_set_says_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises(LocalRunError, match=message):
        parse_override(text)


def test_set_on_an_object_that_is_not_there_is_an_error() -> None:
    with pytest.raises(LocalRunError, match="no FineTuneJob/other among the manifests"):
        apply_overrides([], [parse_override("FineTuneJob/other:spec.model=x")])


def test_an_invalid_manifest_names_its_fields(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(
        "apiVersion: kubefactory.io/v1alpha1\nkind: FineTuneJob\nmetadata: {name: j}\n"
        "spec: {model: x, datasets: [], training: {}, resources: {nodes: 0}}\n"
    )
    with pytest.raises(LocalRunError, match=r"spec\.resources\.nodes"):
        load([str(tmp_path)], [], [], "default")


def test_config_maps_and_secrets_come_from_manifests_and_files(tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text("[1]")
    secret = base64.b64encode(b"hunter2").decode()
    (tmp_path / "objects.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x.json: '[]'}\n---\n"
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata: {{TOKEN: {secret}}}\n"
        "stringData: {USER: me}\n"
    )
    manifests = load([str(tmp_path / "objects.yaml")], [], [f"b={tmp_path / 'data.json'}"], "default")
    assert manifests.config_maps == {"a": {"x.json": "[]"}, "b": {"data.json": "[1]"}}
    assert manifests.secrets == {"s": {"TOKEN": "hunter2", "USER": "me"}}


def test_config_map_from_a_key_and_file_or_a_folder(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text("1")
    (tmp_path / "two.json").write_text("2")
    assert config_map_from_path(f"m=data.json={tmp_path / 'one.json'}") == ("m", {"data.json": "1"})
    assert config_map_from_path(f"m={tmp_path}") == ("m", {"one.json": "1", "two.json": "2"})
    with pytest.raises(LocalRunError, match="no such file or folder"):
        config_map_from_path(f"m={tmp_path / 'missing'}")


def test_a_missing_file_is_named() -> None:
    with pytest.raises(LocalRunError, match="-f nowhere.yaml: no such file or folder"):
        load(["nowhere.yaml"], [], [], "default")
