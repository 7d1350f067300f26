"""Operator settings: defaults < config file < variables, every problem reported with its source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubefactory.operator.settings import SettingsError, load_settings


def test_defaults_need_nothing() -> None:
    settings = load_settings({})
    assert settings.namespaces == [] and settings.resync_seconds == 30
    assert settings.image_for("amd").startswith("ghcr.io/kubefactory/runtime-rocm:")
    assert settings.prepare_image == settings.image_for("cpu")


def test_the_file_then_the_variables(tmp_path: Path) -> None:
    file = tmp_path / "operator.yaml"
    file.write_text(
        "namespaces: [team-a]\nresyncSeconds: 12\nimages: {nvidia: registry.local/cuda:1}\n"
        "defaultTolerations: [{key: dedicated, operator: Exists}]\n"
    )
    env = {"KUBEFACTORY_OPERATOR_CONFIG": str(file), "KUBEFACTORY_OPERATOR_RESYNC_SECONDS": "5"}
    settings = load_settings(env)
    assert settings.namespaces == ["team-a"]
    assert settings.resync_seconds == 5  # the variable wins
    assert settings.image_for("nvidia") == "registry.local/cuda:1"
    assert settings.tolerations() == [{"key": "dedicated", "operator": "Exists"}]


@pytest.mark.parametrize(
    ("value", "expected"), [("team-a,team-b", ["team-a", "team-b"]), ("[team-a]", ["team-a"]), ("", [])]
)
def test_list_variables_take_commas_or_yaml(value: str, expected: list[str]) -> None:
    assert load_settings({"KUBEFACTORY_OPERATOR_NAMESPACES": value}).namespaces == expected


def test_every_problem_is_reported_with_where_it_came_from(tmp_path: Path) -> None:
    file = tmp_path / "operator.yaml"
    file.write_text("images: {intel: x}\nresyncSeconds: 0\n")
    env = {"KUBEFACTORY_OPERATOR_IMAGE_PULL_POLICY": "Sometimes"}
    with pytest.raises(SettingsError) as caught:
        load_settings(env, file)
    message = str(caught.value)
    assert (
        f"images (from config file {file}): Value error, unknown accelerator vendor(s) ['intel']" in message
    )
    assert f"resyncSeconds (from config file {file}): Input should be greater than or equal to 0.5" in message
    assert (
        "imagePullPolicy (from KUBEFACTORY_OPERATOR_IMAGE_PULL_POLICY): Input should be 'Always'" in message
    )


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    file = tmp_path / "operator.yaml"
    file.write_text("resync: 3\n")
    with pytest.raises(
        SettingsError, match=f"resync \\(from config file {file}\\): Extra inputs are not permitted"
    ):
        load_settings({}, file)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=f"operator config file {tmp_path / 'nope.yaml'} not found"):
        load_settings({}, tmp_path / "nope.yaml")


def test_the_entry_point_validates_settings_before_anything_starts() -> None:
    env = {"KUBEFACTORY_OPERATOR_RESYNC_SECONDS": "soon", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "kubefactory.operator", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        "resyncSeconds (from KUBEFACTORY_OPERATOR_RESYNC_SECONDS): Input should be a valid number"
        in result.stderr
    )


# settings → the error, naming the fields (None: valid)
LEADERSHIP = [
    ({"leaderElection": True, "leaseNamespace": "kubefactory"}, None),
    ({"leaderElection": False}, None),  # one process: no Lease needed
    ({"leaderElection": True}, "leaseNamespace is required when leaderElection is true"),
    (
        {"leaseDurationSeconds": 4, "renewDeadlineSeconds": 4, "retryPeriodSeconds": 1},
        "retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds, got 1.0 < 4.0 < 4",
    ),
    (
        {"leaseDurationSeconds": 4, "renewDeadlineSeconds": 2, "retryPeriodSeconds": 3},
        "retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds",
    ),
    ({"healthPort": 8080, "metricsPort": 8080}, "healthPort and metricsPort are both 8080"),
    ({"metricsPort": 0}, "metricsPort (from config file"),
]


@pytest.mark.parametrize(("values", "error"), LEADERSHIP)
def test_leader_election_and_endpoint_settings(
    tmp_path: Path, values: dict[str, object], error: str | None
) -> None:
    file = tmp_path / "operator.yaml"
    file.write_text(yaml.safe_dump(values))
    if error is None:
        assert load_settings({}, file).leader_election is bool(values.get("leaderElection"))
        return
    with pytest.raises(SettingsError) as caught:
        load_settings({}, file)
    assert error in str(caught.value)
