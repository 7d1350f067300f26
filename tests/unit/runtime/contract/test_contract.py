"""The pod contract is the one definition of what crosses the operator ↔ pod boundary.

Each test imports both sides: they must use the contract's objects, and what one side writes
the other must read.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubefactory.runtime import contract
from kubefactory.runtime.contract.accelerators import ACCELERATORS, visibility_variables
from kubefactory.runtime.contract.prepare import PrepareReport
from kubefactory.runtime.contract.progress import ProgressRecord


def test_shared_names_come_from_the_contract() -> None:
    from kubefactory.operator.builders import layout, progress_access
    from kubefactory.runtime.agents import dataset_prepare as data_prepare
    from kubefactory.runtime.agents import progress_report
    from kubefactory.runtime.train import artifacts

    assert progress_access.PROGRESS_KEY is progress_report.PROGRESS_KEY is contract.PROGRESS_KEY
    assert progress_report.TERMINATION_LIMIT is data_prepare.TERMINATION_LIMIT is contract.TERMINATION_LIMIT
    assert layout.PREPARED_FILE is data_prepare.PREPARED_FILE is contract.PREPARED_FILE
    assert layout.DATASET_INFO_FILE is contract.DATASET_INFO_FILE
    assert artifacts.PROGRESS_FILE is contract.PROGRESS_FILE
    assert f"{layout.OUTPUT_DIR}/{contract.PROGRESS_FILE}" == layout.PROGRESS_FILE


def test_one_accelerator_table() -> None:
    from kubefactory.operator.profiles import PROFILES as operator_table
    from kubefactory.runtime.launch.accelerators import PROFILES as launcher_table

    assert operator_table is launcher_table is ACCELERATORS


def test_the_serving_launcher_reads_every_variable_of_the_table() -> None:
    from kubefactory.runtime.serve.launchers import visible_accelerators

    variables = visibility_variables()
    assert variables == (
        "CUDA_VISIBLE_DEVICES",
        "HIP_VISIBLE_DEVICES",
        "ROCR_VISIBLE_DEVICES",
        "ASCEND_RT_VISIBLE_DEVICES",
    )
    for row in ACCELERATORS.values():
        for name in row.visible_devices:
            assert visible_accelerators({name: "0,1"}) == 2


def test_no_row_overrides_the_images_library_path() -> None:
    for row in ACCELERATORS.values():
        assert "LD_LIBRARY_PATH" not in row.env


def test_the_operator_reads_every_value_of_the_record_the_trainer_writes() -> None:
    from kubefactory.operator.status.progress import FIELDS, checkpoint_name, progress_status, read_record

    record = ProgressRecord(
        step=120,
        total_steps=1000,
        epoch=0.5,
        loss=1.25,
        learning_rate=1e-4,
        tokens_per_second=900.5,
        eta_seconds=600,
        latest_checkpoint="checkpoint-100",
        updated_at="2026-01-02T03:04:05Z",
    )
    written = json.dumps(record.record())
    read = read_record(written)
    assert read is not None
    assert set(read) == set(ProgressRecord.record_keys())
    status = progress_status(read)
    assert status == {
        "step": 120,
        "totalSteps": 1000,
        "epoch": 0.5,
        "loss": 1.25,
        "learningRate": 1e-4,
        "tokensPerSecond": 900.5,
        "etaSeconds": 600,
        "updateTime": "2026-01-02T03:04:05Z",
        "summary": "120/1000 (12%)",
    }
    assert checkpoint_name(read) == "checkpoint-100"
    # every record key is mirrored somewhere: into status.progress, or as the checkpoint
    assert set(FIELDS) | {"latestCheckpoint"} == set(ProgressRecord.record_keys())


def test_the_operator_reads_the_report_the_prepare_command_writes() -> None:
    from kubefactory.operator.reconcile.dataset_plan import read_report, report_fields
    from kubefactory.runtime.agents.dataset_prepare import Report

    report = Report(rows=10, kept=7, skipped=3, reasons=[("no response", 2, "row 1"), ("empty", 1, "row 4")])
    report.size_bytes, report.fingerprint = 1234, "sha256:abc"
    pod = _finished_prepare_pod(report.to_json())
    read = read_report([pod])
    assert read is not None
    assert PrepareReport.model_validate(read).kept == 7
    assert report_fields(read) == {
        "samples": {"kept": 7, "skipped": 3},
        "skipReasons": [
            {"reason": "no response", "count": 2, "example": "row 1"},
            {"reason": "empty", "count": 1, "example": "row 4"},
        ],
        "sizeBytes": 1234,
        "fingerprint": "sha256:abc",
    }


@pytest.mark.parametrize("reasons", [0, 5, 500])
def test_a_report_fits_in_a_termination_message(reasons: int) -> None:
    report = PrepareReport(
        rows=reasons,
        skipped=reasons,
        skip_reasons=[{"reason": f"reason {i} " + "x" * 200, "count": 1} for i in range(reasons)],
    )
    text = report.to_json(contract.TERMINATION_LIMIT)
    assert len(text.encode()) <= contract.TERMINATION_LIMIT
    parsed = json.loads(text)
    assert parsed["file"] == contract.PREPARED_FILE
    assert len(parsed["skipReasons"]) == min(reasons, len(parsed["skipReasons"]))
    if reasons <= 5:
        assert len(parsed["skipReasons"]) == reasons  # nothing dropped when it fits


def _finished_prepare_pod(message: str) -> dict[str, Any]:
    from kubefactory.operator.builders.layout import PREPARE_CONTAINER

    return {
        "metadata": {"name": "p", "labels": {}},
        "status": {
            "containerStatuses": [
                {"name": PREPARE_CONTAINER, "state": {"terminated": {"exitCode": 0, "message": message}}}
            ]
        },
    }
