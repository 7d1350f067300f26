"""The headless Service that gives every training pod a DNS name: ``<job>-<index>.<service>``."""

from __future__ import annotations

from typing import Any

from ..naming import LABEL_COMPONENT
from .inputs import TrainingInputs


def rendezvous_service(inputs: TrainingInputs) -> dict[str, Any]:
    port = inputs.spec.distributed.master_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": inputs.owner.metadata(inputs.names.service, "rendezvous"),
        "spec": {
            "clusterIP": "None",
            # rank 0 must be resolvable before any pod is Ready, or torchrun cannot rendezvous
            "publishNotReadyAddresses": True,
            "selector": {**inputs.owner.selector(), LABEL_COMPONENT: "trainer"},
            "ports": [{"name": "rendezvous", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }
