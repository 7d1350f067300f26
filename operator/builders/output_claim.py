"""The claim for results and checkpoints, unless spec.output.pvc names one.

It is owned by the FineTuneJob (and deleted with it) only when spec.output.retain is false: by
default a trained model outlives the object that trained it.
"""

from __future__ import annotations

from typing import Any

from ..settings import OperatorSettings
from .inputs import TrainingInputs


def output_claim(inputs: TrainingInputs, settings: OperatorSettings) -> dict[str, Any] | None:
    output = inputs.spec.output
    pvc = output.pvc
    if pvc is not None and pvc.claim_name:
        return None
    spec: dict[str, Any] = {
        "accessModes": list(settings.output_access_modes),
        "resources": {"requests": {"storage": str(pvc.size if pvc and pvc.size else settings.output_size)}},
    }
    storage_class = (pvc.storage_class_name if pvc else None) or settings.storage_class_name
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": inputs.owner.metadata(inputs.names.output, "output", owned=not output.retain),
        "spec": spec,
    }
