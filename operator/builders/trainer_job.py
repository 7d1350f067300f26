"""The Indexed Job of one attempt: completions = parallelism = nodes, one pod per node.

backoffLimit is 0 on purpose: the group is restarted as a whole by the operator (a new attempt,
from the latest checkpoint), never pod by pod by the Job controller.
"""

from __future__ import annotations

from typing import Any

from ..naming import LABEL_ATTEMPT
from ..settings import OperatorSettings
from .inputs import TrainingInputs
from .trainer_pod import trainer_pod_template

KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
ATTEMPT_ANNOTATION = "kubefactory.io/attempt"


def trainer_job(inputs: TrainingInputs, settings: OperatorSettings, suspend: bool) -> dict[str, Any]:
    nodes = inputs.spec.resources.nodes
    extra = {LABEL_ATTEMPT: str(inputs.attempt)}
    if inputs.spec.scheduling.queue_name:
        extra[KUEUE_QUEUE_LABEL] = inputs.spec.scheduling.queue_name
    metadata = inputs.owner.metadata(inputs.job_name, "trainer", labels=extra)
    metadata["annotations"][ATTEMPT_ANNOTATION] = str(inputs.attempt)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "completionMode": "Indexed",
            "completions": nodes,
            "parallelism": nodes,
            "backoffLimit": 0,
            "suspend": suspend,
            "template": trainer_pod_template(inputs, settings),
        },
    }
