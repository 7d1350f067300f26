"""Start the operator: settings → client → controller → kopf, until SIGTERM/SIGINT."""

from __future__ import annotations

import logging

import kopf

from .controller import Controller
from .handlers import build_registry
from .kube import Kube, connect
from .settings import OperatorSettings


def kopf_settings(verbose: bool) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    # no CRD/namespace scanning (and no RBAC for it): the kinds are known, namespaces are named
    settings.scanning.disabled = True
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    settings.execution.max_workers = 8
    if not verbose:
        logging.getLogger("kopf").setLevel(logging.WARNING)
    return settings


def run(settings: OperatorSettings, kubeconfig: str | None = None, verbose: bool = False) -> None:
    api_client = connect(kubeconfig)
    controller = Controller(Kube(api_client, settings.field_manager), settings)
    kopf.run(
        registry=build_registry(controller),
        settings=kopf_settings(verbose),
        standalone=True,  # one operator replica; no peering objects needed
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
    )
