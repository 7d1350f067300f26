"""Pinned versions and the on-disk layout of the binary cache and of a cluster's state dir."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

KUBERNETES_VERSION = "v1.36.3"
STAGING_VERSION = "v0.36.3"  # the k8s.io/* staging modules tagged with KUBERNETES_VERSION
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
HELM_VERSION = "v3.22.0"
COREDNS_VERSION = "v1.15.0"  # the real node's cluster DNS (built only for NODE=real)

SERVICE_CIDR = "10.96.0.0/16"  # pki.SERVING_IPS holds its first address

# kubectl is built too: a client of the server's own version (the one on PATH may be far older).
KUBERNETES_COMMANDS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kubelet",  # the real node (NODE=real)
    "kube-proxy",  # Services for pods on the real node
)


def cache_root() -> Path:
    """``${KUBEFACTORY_CACHE:-~/.cache/kubefactory}/control-plane``."""
    base = os.environ.get("KUBEFACTORY_CACHE") or "~/.cache/kubefactory"
    return Path(base).expanduser().resolve() / "control-plane"


def tool_dir(name: str, version: str) -> Path:
    return cache_root() / f"{name}-{version}"


def bin_dir(name: str, version: str) -> Path:
    return tool_dir(name, version) / "bin"


def build_root() -> Path:
    """Where the generated wrapper Go modules live."""
    return cache_root() / "build"


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of every cached binary the control plane uses."""

    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    etcd: Path
    kwok: Path
    helm: Path
    kwok_stages: Path
    kubelet: Path
    kube_proxy: Path
    coredns: Path

    @classmethod
    def default(cls) -> Binaries:
        kube = bin_dir("kubernetes", KUBERNETES_VERSION)
        return cls(
            kube_apiserver=kube / "kube-apiserver",
            kube_controller_manager=kube / "kube-controller-manager",
            kube_scheduler=kube / "kube-scheduler",
            kubectl=kube / "kubectl",
            etcd=bin_dir("etcd", ETCD_VERSION) / "etcd",
            kwok=bin_dir("kwok", KWOK_VERSION) / "kwok",
            helm=bin_dir("helm", HELM_VERSION) / "helm",
            kwok_stages=tool_dir("kwok", KWOK_VERSION) / "stages",
            kubelet=kube / "kubelet",
            kube_proxy=kube / "kube-proxy",
            coredns=bin_dir("coredns", COREDNS_VERSION) / "coredns",
        )

    def paths(self) -> list[Path]:
        """What every cluster needs (the real node's CoreDNS is built only when asked for)."""
        return [getattr(self, field.name) for field in fields(self) if field.name != "coredns"]


@dataclass(frozen=True)
class StateDir:
    """The files of one running cluster, all below ``root``."""

    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def operator_kubeconfig(self) -> Path:
        return self.root / "operator.kubeconfig"

    @property
    def info(self) -> Path:
        """JSON with the ports and server URL of the running cluster."""
        return self.root / "cluster.json"

    def component_kubeconfig(self, component: str) -> Path:
        return self.root / f"{component}.kubeconfig"
