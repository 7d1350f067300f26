"""Every child of a FineTuneJob, in the order they are applied.

The children shared by all attempts (claim, access to the progress ConfigMap, rendered config,
rendezvous Service) come first; the attempt's own objects (PodGroup, Job) last, so a pod never
starts before what it mounts and resolves exists.
"""

from __future__ import annotations

from typing import Any

from ..settings import OperatorSettings
from .gang import pod_group
from .inputs import TrainingInputs
from .output_claim import output_claim
from .progress_access import progress_config_map, trainer_role, trainer_role_binding, trainer_service_account
from .rendered_config import config_map
from .rendezvous import rendezvous_service
from .trainer_job import trainer_job


def shared_children(inputs: TrainingInputs, settings: OperatorSettings) -> list[dict[str, Any]]:
    claim = output_claim(inputs, settings)
    return [
        *([claim] if claim else []),
        trainer_service_account(inputs),
        trainer_role(inputs),
        trainer_role_binding(inputs),
        progress_config_map(inputs),
        config_map(
            inputs.owner,
            inputs.names.config,
            inputs.spec,
            list(inputs.datasets),
            list(inputs.eval_datasets),
            inputs.resume_from,
        ),
        rendezvous_service(inputs),
    ]


def attempt_children(
    inputs: TrainingInputs, settings: OperatorSettings, suspend: bool
) -> list[dict[str, Any]]:
    group = pod_group(inputs)
    return [*([group] if group else []), trainer_job(inputs, settings, suspend)]
