"""The Indexed Job of an attempt."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.builders.trainer_job import trainer_job
from kubefactory.operator.settings import OperatorSettings


@pytest.mark.parametrize("nodes", [1, 2, 16])
def test_one_pod_per_node(make_inputs: Any, settings: OperatorSettings, nodes: int) -> None:
    job = trainer_job(make_inputs({"resources": {"nodes": nodes}}), settings, suspend=False)
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", nodes, nodes)
    assert spec["backoffLimit"] == 0  # the operator restarts the group, never the Job controller a pod


def test_names_labels_and_owner(make_inputs: Any, settings: OperatorSettings) -> None:
    job = trainer_job(make_inputs(attempt=2), settings, suspend=True)
    meta = job["metadata"]
    assert meta["name"] == "sft-a2" and meta["namespace"] == "team-a"
    assert meta["labels"]["kubefactory.io/attempt"] == "2"
    assert meta["labels"]["app.kubernetes.io/component"] == "trainer"
    assert meta["ownerReferences"][0]["name"] == "sft"
    assert meta["annotations"] == {"kubefactory.io/parent": "FineTuneJob/sft", "kubefactory.io/attempt": "2"}
    assert job["spec"]["suspend"] is True
    assert "kueue.x-k8s.io/queue-name" not in meta["labels"]


def test_kueue_queue_label(make_inputs: Any, settings: OperatorSettings) -> None:
    job = trainer_job(make_inputs({"scheduling": {"queueName": "gpu-team-a"}}), settings, suspend=True)
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-team-a"
