"""Start the operator: settings → client → controller → (leader election) → kopf, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import uuid
from http.server import ThreadingHTTPServer

import kopf

from .cache import WatchCache
from .controller import Controller
from .handlers import build_registry
from .kube import Kube, connect
from .leader import LeadershipLost, LeaseElector
from .metrics import Metrics
from .probes import Health, serve_health, serve_metrics
from .registry import cached_kinds
from .settings import OperatorSettings

log = logging.getLogger(__name__)
EXIT_LOST_LEADERSHIP = 3


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


def replica_identity() -> str:
    """The pod's name (the chart passes it in) and a random part: a restarted process is a new
    candidate, and two processes on one host never share an identity."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def stop_at_once(holding: asyncio.Task[None]) -> None:
    """Leadership lost: end the process now. Reconciles run in worker threads that cannot be
    cancelled; exiting is the only way to be sure this replica writes nothing more while another
    one may already lead. The Deployment restarts it as a standby."""
    if holding.cancelled() or not isinstance(holding.exception(), LeadershipLost):
        return
    log.error("stopping: %s", holding.exception())
    logging.shutdown()
    sys.stdout.flush()
    os._exit(EXIT_LOST_LEADERSHIP)


async def operate(
    controller: Controller,
    settings: OperatorSettings,
    elector: LeaseElector | None,
    health: Health,
    verbose: bool,
) -> int:
    stop = asyncio.Event()  # SIGTERM/SIGINT before kopf takes the signals over
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    holding: asyncio.Task[None] | None = None
    if elector is not None:
        if not await elector.acquire(stop):
            return 0
        holding = asyncio.create_task(elector.hold(), name="lease renewal")
        holding.add_done_callback(stop_at_once)
    try:
        await kopf.operator(
            registry=build_registry(controller),
            settings=kopf_settings(verbose),
            standalone=True,  # no kopf peering objects: the Lease decides who runs
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            stop_flag=stop,
            ready_flag=health.started,
        )
    except asyncio.CancelledError:
        pass
    finally:
        if holding is not None and elector is not None:
            holding.cancel()
            await elector.release()
    return 0


def run(settings: OperatorSettings, kubeconfig: str | None = None, verbose: bool = False) -> int:
    """Run until stopped; the exit code (:data:`EXIT_LOST_LEADERSHIP` ends the process earlier)."""
    api_client = connect(kubeconfig)
    kube = Kube(api_client, settings.field_manager)
    metrics = Metrics()
    cache = WatchCache(cached_kinds())
    controller = Controller(kube, settings, metrics=metrics, cache=cache)
    elector = LeaseElector(kube, settings, replica_identity()) if settings.leader_election else None
    health = Health(settings.renew_deadline_seconds, leader_election=elector is not None)
    if elector is not None:
        health.contact = lambda: elector.last_contact
        health.leading = lambda: elector.leading
        metrics.leader.set_function(lambda: float(elector.leading))
    else:
        metrics.leader.set_function(lambda: float(health.started.is_set()))
    servers: list[ThreadingHTTPServer] = []
    if settings.health_port is not None:
        servers.append(serve_health(settings.bind_address, settings.health_port, health))
    if settings.metrics_port is not None:
        servers.append(serve_metrics(settings.bind_address, settings.metrics_port, metrics.registry))
    try:
        return asyncio.run(operate(controller, settings, elector, health, verbose))
    finally:
        for server in servers:
            server.shutdown()
