"""The runtime's progress record → status.progress."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubefactory.operator.api.finetunejob import Progress
from kubefactory.operator.status.progress import checkpoint_name, progress_status, read_record, summary

RECORD = {
    "step": 120,
    "totalSteps": 1000,
    "epoch": 0.36,
    "loss": 1.2345,
    "learningRate": 9.5e-05,
    "tokensPerSecond": 5120.5,
    "etaSeconds": 3600,
    "latestCheckpoint": "checkpoint-100",
    "updatedAt": "2026-01-02T03:04:05Z",
}


def test_a_full_record() -> None:
    status = progress_status(RECORD)
    assert status == {
        "step": 120,
        "totalSteps": 1000,
        "epoch": 0.36,
        "loss": 1.2345,
        "learningRate": 9.5e-05,
        "tokensPerSecond": 5120.5,
        "etaSeconds": 3600,
        "updateTime": "2026-01-02T03:04:05Z",
        "summary": "120/1000 (12%)",
    }
    Progress.model_validate(status)  # fits the CRD's schema


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"step": 5, "totalSteps": None, "loss": None}, {"step": 5, "summary": "5"}),
        ({"step": -1, "loss": 2.0}, {"loss": 2.0}),  # a bad value drops that value only
        (
            {"step": 3, "totalSteps": 4, "etaSeconds": "soon"},
            {"step": 3, "totalSteps": 4, "summary": "3/4 (75%)"},
        ),
        ({"unknown": 1}, {}),
    ],
)
def test_partial_and_bad_records(record: dict[str, Any], expected: dict[str, Any]) -> None:
    assert progress_status(record) == expected


@pytest.mark.parametrize(
    ("text", "record"),
    [(json.dumps(RECORD), RECORD), ("", None), (None, None), ("{oops", None), ("[1]", None)],
)
def test_read_record(text: str | None, record: dict[str, Any] | None) -> None:
    assert read_record(text) == record


@pytest.mark.parametrize(
    ("latest", "name"),
    [
        ("checkpoint-100", "checkpoint-100"),
        ("/out/checkpoint-7/", "checkpoint-7"),
        ("..", None),
        ("", None),
        (None, None),
        ("x; rm -rf /", None),
    ],
)
def test_checkpoint_name(latest: str | None, name: str | None) -> None:
    assert checkpoint_name({"latestCheckpoint": latest}) == name


def test_summary() -> None:
    assert summary(None, 10) is None
    assert summary(1000, 1000) == "1000/1000 (100%)"
