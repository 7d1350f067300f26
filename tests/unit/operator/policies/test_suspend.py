"""Suspend policy: the Job's spec.suspend the operator wants."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.api.finetunejob import FineTuneJobSpec
from kubefactory.operator.policies.suspend import desired_suspend, suspended_by_queue

# spec additions, job exists → desired spec.suspend (None: left to Kueue)
TABLE = [
    ({}, False, False),
    ({}, True, False),
    ({"suspend": True}, False, True),
    ({"suspend": True}, True, True),
    ({"scheduling": {"queueName": "q"}}, False, True),  # created suspended, for Kueue to admit
    ({"scheduling": {"queueName": "q"}}, True, None),  # then Kueue decides
    ({"suspend": True, "scheduling": {"queueName": "q"}}, True, True),  # the user can still suspend
]


@pytest.mark.parametrize(("extra", "exists", "wanted"), TABLE)
def test_desired_suspend(
    make_finetunejob: Any, extra: dict[str, Any], exists: bool, wanted: bool | None
) -> None:
    spec = FineTuneJobSpec.model_validate(make_finetunejob(extra)["spec"])
    assert desired_suspend(spec, job_exists=exists) is wanted


@pytest.mark.parametrize(
    ("extra", "job_suspended", "queued"),
    [
        ({"scheduling": {"queueName": "q"}}, True, True),
        ({"scheduling": {"queueName": "q"}}, False, False),
        ({}, True, False),
        ({"suspend": True, "scheduling": {"queueName": "q"}}, True, False),
    ],
)
def test_suspended_by_queue(
    make_finetunejob: Any, extra: dict[str, Any], job_suspended: bool, queued: bool
) -> None:
    spec = FineTuneJobSpec.model_validate(make_finetunejob(extra)["spec"])
    assert suspended_by_queue(spec, job_suspended) is queued
