"""Datasets on the local control plane: prepared by a Job whose report is the real prepare command's,
bad rows reported, training held until the data is Ready, a new spec prepared again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from test_operator_support import (
    IDENTITY_ROWS,
    Volumes,
    Waiter,
    children,
    condition,
    create,
    dataset_manifest,
    finetunejob_manifest,
    finish_prepare,
    get_json,
    items,
    ready_dataset,
    run_prepare,
    status,
)

BAD_ROWS = [{"instruction": "a question with no answer"}, {"instruction": "another one"}]


def test_training_waits_for_its_dataset(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    volumes.provide(namespace, "sft-output")
    create(control_plane, finetunejob_manifest("sft", namespace, resources={"nodes": 2}))
    missing = wait.phase("finetunejob", "sft", "WaitingForDatasets")
    assert condition(missing, "DatasetsReady")["reason"] == "DatasetNotFound"
    assert (
        condition(missing, "DatasetsReady")["message"]
        == f"Dataset identity not found in namespace {namespace}"
    )

    ready = ready_dataset(control_plane, wait, volumes, tmp_path)
    wait.pods("kubefactory.io/finetunejob=sft", 2)
    assert children(control_plane, namespace, "sft")["Job"] == ["sft-a1"]
    info = json.loads(
        get_json(control_plane, "configmap", "sft-config", "-n", namespace)["data"]["dataset_info.json"]
    )
    folder = ready["location"].split("/", 3)[-1]  # pvc://identity-data/<folder>
    assert info == {
        "identity": {
            "file_name": f"/kubefactory/datasets/identity/{folder}/data.jsonl",
            "formatting": "alpaca",
        }
    }
    config = yaml.safe_load(
        get_json(control_plane, "configmap", "sft-config", "-n", namespace)["data"]["config.yaml"]
    )
    assert (config["dataset"], config["dataset_dir"]) == ("identity", "/kubefactory/config")


def test_bad_rows_are_reported(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    found = ready_dataset(control_plane, wait, volumes, tmp_path, rows=IDENTITY_ROWS + BAD_ROWS)
    assert found["samples"] == {"kept": 2, "skipped": 2}
    (reason,) = found["skipReasons"]
    assert reason["count"] == 2 and reason["example"] == "row 2"
    assert reason["reason"].startswith("sft needs exactly one answer to learn")
    assert found["fingerprint"].startswith("sha256:") and found["sizeBytes"] > 0
    assert condition(found, "Ready")["message"].startswith("kept 2 of 4 samples (2 skipped: 2× sft needs")
    row = (
        control_plane.kubectl("get", "kfds", "identity", "-n", namespace, "-o", "wide")
        .stdout.splitlines()[1]
        .split()
    )
    assert row[:5] == ["identity", "2", "alpaca", "Ready", "2"], row  # Samples, Format, Phase, Skipped


def test_data_with_no_usable_row_fails_and_holds_training(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    control_plane.kubectl(
        "create", "configmap", "bad-rows", "-n", namespace, f"--from-literal=data.json={json.dumps(BAD_ROWS)}"
    )
    volumes.provide(namespace, "identity-data")
    create(control_plane, dataset_manifest("identity", namespace, "bad-rows"))
    code, report = run_prepare(BAD_ROWS, tmp_path / "bad")
    assert code == 1
    finish_prepare(control_plane, wait, "identity", code, report)
    failed = wait.phase("dataset", "identity", "Failed")
    assert failed["samples"] == {"kept": 0, "skipped": 2}
    assert condition(failed, "Ready")["reason"] == "PreparationFailed"
    assert "no valid samples among 2 rows" in condition(failed, "Ready")["message"]

    create(control_plane, finetunejob_manifest("sft", namespace))
    waiting = wait.phase("finetunejob", "sft", "WaitingForDatasets")
    assert condition(waiting, "DatasetsReady")["reason"] == "DatasetFailed"
    assert (
        "Dataset identity failed to prepare: dataset 'identity': no valid samples"
        in condition(waiting, "DatasetsReady")["message"]
    )
    assert not items(control_plane, "jobs", namespace, "kubefactory.io/finetunejob=sft")


def test_a_new_spec_is_prepared_again(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    first = ready_dataset(control_plane, wait, volumes, tmp_path)
    old_jobs = [
        job["metadata"]["name"]
        for job in items(control_plane, "jobs", namespace, "kubefactory.io/dataset=identity")
    ]
    control_plane.kubectl(
        "patch", "dataset", "identity", "-n", namespace, "--type=merge", "-p", '{"spec":{"numSamples":1}}'
    )
    wait.until(
        "a new prepare Job in place of the old one",
        lambda: (
            names
            if (
                names := [
                    j["metadata"]["name"]
                    for j in items(control_plane, "jobs", namespace, "kubefactory.io/dataset=identity")
                    if not j["metadata"].get("deletionTimestamp")
                ]
            )
            and not set(names) & set(old_jobs)
            else None
        ),
    )
    again = status(control_plane, namespace, "dataset", "identity")
    assert again["observedGeneration"] == 2 and again["phase"] in ("Pending", "Preparing")
    code, report = run_prepare(IDENTITY_ROWS, tmp_path / "again")
    finish_prepare(control_plane, wait, "identity", code, report)
    ready = wait.phase("dataset", "identity", "Ready")
    assert ready["location"] != first["location"]  # a new folder for the new spec
