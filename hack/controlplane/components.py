"""Command lines and start-up of etcd, kube-apiserver, controller-manager, scheduler and kwok."""

from __future__ import annotations

import shutil
import ssl
from dataclasses import dataclass
from pathlib import Path

from hack.controlplane import fakenodes, layout, node, pki, procs
from hack.controlplane.layout import Binaries, StateDir

SERVICE_CIDR = layout.SERVICE_CIDR
POD_CIDR = "10.244.0.0/16"  # kwok hands out pod IPs from here
NODE_IP = "10.240.0.1"
PORT_NAMES = ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok")
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
START_TIMEOUT = 90.0


def ca_context(state: StateDir) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(state.pki / "ca.crt"))


@dataclass(frozen=True)
class Launch:
    """Everything a component's command line needs, plus how to start it."""

    binaries: Binaries
    state: StateDir
    ports: dict[str, int]
    tied: bool = False  # components die with this Python process (test sessions)
    real_node: bool = False  # a kubelet joins (node.py): pods must reach the API server

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    def start(self, name: str, argv: list[str]) -> None:
        procs.start(self.state, name, argv, tied=self.tied)

    def wait(
        self, name: str, url: str, context: ssl.SSLContext | None = None, token: str | None = None
    ) -> None:
        probe = procs.http_check(url, context, token)
        procs.wait_until(f"{name} {url}", probe, START_TIMEOUT, self.state, name)


def etcd_args(launch: Launch) -> list[str]:
    client = f"http://127.0.0.1:{launch.ports['etcd']}"
    peer = f"http://127.0.0.1:{launch.ports['etcd-peer']}"
    return [
        str(launch.binaries.etcd), "--name=kubefactory", f"--data-dir={launch.state.etcd_data}",
        f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=kubefactory={peer}", "--unsafe-no-fsync=true", "--log-level=warn",
    ]  # fmt: skip


def reachability_args(real_node: bool) -> list[str]:
    """Where the API server listens, and what the ``kubernetes`` Service points at.

    kwok only: loopback, and no endpoints (a loopback endpoint is invalid). With a real node, pods
    reach it through the ``kubernetes`` Service (kube-proxy) at the node bridge's address, and the
    kubelet's logs/exec connections come back from it.
    """
    if not real_node:
        return [
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",
        ]
    return [
        "--bind-address=0.0.0.0",
        f"--advertise-address={node.GATEWAY}",
        "--endpoint-reconciler-type=lease",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
    ]


def apiserver_args(launch: Launch) -> list[str]:
    keys = launch.state.pki
    return [
        str(launch.binaries.kube_apiserver), f"--etcd-servers=http://127.0.0.1:{launch.ports['etcd']}",
        *reachability_args(launch.real_node), f"--secure-port={launch.ports['apiserver']}",
        f"--cert-dir={keys}", f"--tls-cert-file={keys / 'apiserver.crt'}",
        f"--tls-private-key-file={keys / 'apiserver.key'}", f"--client-ca-file={keys / 'ca.crt'}",
        f"--token-auth-file={keys / 'tokens.csv'}", "--authorization-mode=RBAC",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--allow-privileged=true",
        f"--service-account-issuer={launch.server}", f"--service-account-key-file={keys / 'sa.key'}",
        f"--service-account-signing-key-file={keys / 'sa.key'}",
        "--profiling=false", "--v=1",
    ]  # fmt: skip


def shared_args(binary: Path, kubeconfig: Path, port: int, cert_dir: Path) -> list[str]:
    """Flags kube-controller-manager and kube-scheduler have in common."""
    return [
        str(binary), f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}", "--bind-address=127.0.0.1", f"--secure-port={port}",
        f"--cert-dir={cert_dir}", "--leader-elect=false", "--v=1",
    ]  # fmt: skip


def controller_manager_args(launch: Launch) -> list[str]:
    state = launch.state
    kubeconfig = state.component_kubeconfig(pki.CONTROLLER_MANAGER.name)
    port = launch.ports["controller-manager"]
    return [
        *shared_args(launch.binaries.kube_controller_manager, kubeconfig, port, state.root / "certs-kcm"),
        f"--service-account-private-key-file={state.pki / 'sa.key'}",
        f"--root-ca-file={state.pki / 'ca.crt'}",
        "--use-service-account-credentials=true",  # each controller gets its bootstrap RBAC role
    ]


def scheduler_args(launch: Launch) -> list[str]:
    kubeconfig = launch.state.component_kubeconfig(pki.SCHEDULER.name)
    port = launch.ports["scheduler"]
    return shared_args(
        launch.binaries.kube_scheduler, kubeconfig, port, launch.state.root / "certs-scheduler"
    )


def kwok_args(launch: Launch) -> list[str]:
    state = launch.state
    stages = fakenodes.write_stage_config(launch.binaries.kwok_stages, state.manifests / "kwok-stages.yaml")
    return [
        str(launch.binaries.kwok), f"--kubeconfig={state.component_kubeconfig(pki.KWOK.name)}",
        f"--config={stages}", "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={fakenodes.KWOK_ANNOTATION}=fake",
        f"--server-address=127.0.0.1:{launch.ports['kwok']}", f"--cidr={POD_CIDR}", f"--node-ip={NODE_IP}",
    ]  # fmt: skip


def start_etcd(launch: Launch) -> None:
    launch.start("etcd", etcd_args(launch))
    launch.wait("etcd", f"http://127.0.0.1:{launch.ports['etcd']}/health")


def start_apiserver(launch: Launch, admin_token: str) -> None:
    launch.start("kube-apiserver", apiserver_args(launch))
    launch.wait("kube-apiserver", f"{launch.server}/readyz", ca_context(launch.state), admin_token)


def write_kubeconfigs(launch: Launch, tokens: dict[str, str]) -> None:
    """``<identity>.kubeconfig`` for each identity (so ``operator.kubeconfig``), and the admin's
    again as ``kubeconfig``."""
    state, ca_file = launch.state, launch.state.pki / "ca.crt"
    for identity in pki.IDENTITIES:
        path = state.component_kubeconfig(identity.name)
        pki.write_kubeconfig(path, launch.server, ca_file, identity, tokens[identity.name])
    shutil.copyfile(state.component_kubeconfig(pki.ADMIN.name), state.kubeconfig)


def start_workers(launch: Launch) -> None:
    """Controller-manager, scheduler and kwok, started together, then waited on."""
    launch.start("kube-controller-manager", controller_manager_args(launch))
    launch.start("kube-scheduler", scheduler_args(launch))
    launch.start("kwok", kwok_args(launch))
    insecure = procs.insecure_context()  # their serving certs are self-signed
    launch.wait(
        "kube-controller-manager", f"https://127.0.0.1:{launch.ports['controller-manager']}/healthz", insecure
    )
    launch.wait("kube-scheduler", f"https://127.0.0.1:{launch.ports['scheduler']}/healthz", insecure)
    launch.wait("kwok", f"http://127.0.0.1:{launch.ports['kwok']}/healthz")


def start_all(launch: Launch, tokens: dict[str, str]) -> None:
    start_etcd(launch)
    start_apiserver(launch, tokens[pki.ADMIN.name])
    write_kubeconfigs(launch, tokens)
    start_workers(launch)
