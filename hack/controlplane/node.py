"""The real node: containerd, runc, a CNI bridge, the kubelet, kube-proxy and CoreDNS on this host.

It joins the local control plane next to the kwok nodes, labelled and tainted
(``kubefactory.io/node=real``) so that only workloads meant for it land there. Everything it changes
on the host is recorded *before* it is changed, in ``owner.json`` under the node cache
(``${KUBEFACTORY_CACHE}/node``), so that :func:`teardown` can undo it in order — also after the
process that started it was killed (the next ``up`` or ``down`` finds the record and cleans up).

What it changes, and how it is undone:

- sysctls (``net.ipv4.ip_forward``; the kubelet's ``vm.overcommit_memory``, ``vm.panic_on_oom``,
  ``kernel.panic``, ``kernel.panic_on_oops``, ``kernel.keys.*``; ``route_localnet``): restored
  to the recorded values;
- the bridge ``kfbr0`` (10.250.0.1/24) and the pods' veths: deleted;
- iptables: kube-proxy's chains (``kube-proxy --cleanup``) and our guard chains, which keep pod
  traffic and unanswered Service addresses from ever leaving through the host's own interfaces;
- the kubelet's root dir bind mount, pod volume mounts, container rootfs and netns mounts:
  unmounted, deepest first;
- cgroups under ``kubepods`` in every hierarchy: removed, deepest first;
- processes: kubelet, kube-proxy, CoreDNS, containerd and every containerd shim of our socket.

Images live in a containerd root kept in the cache (a 5 GB runtime image is imported once);
containers, sandboxes and their snapshots are removed on teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from hack.controlplane import gobuild, layout, pki, procs

NODE_NAME = "kubefactory-real-node"  # pki.KUBELET's user is system:node:<this>
NODE_LABEL_KEY = "kubefactory.io/node"
NODE_LABEL_VALUE = "real"
NODE_TAINT = {"key": NODE_LABEL_KEY, "value": NODE_LABEL_VALUE, "effect": "NoSchedule"}
NODE_TOLERATION = {
    "key": NODE_LABEL_KEY,
    "operator": "Equal",
    "value": NODE_LABEL_VALUE,
    "effect": "NoSchedule",
}
BRIDGE = "kfbr0"
SUBNET = "10.250.0.0/24"
GATEWAY = "10.250.0.1"  # the host on the bridge: the API server's advertised address, CoreDNS
CLUSTER_DOMAIN = "cluster.local"
DEFAULT_SANDBOX_IMAGE = "ghcr.io/kubefactory/pause:3.10"  # built locally from images/pause
STORAGE_CLASS = "kubefactory-local"
VOLUME_POOL = 24  # static hostPath PersistentVolumes the node offers
VOLUME_CAPACITY = "1Ti"  # hostPath does not enforce sizes; large enough for any claim
GUARD_CHAINS = {"FORWARD": "KUBEFACTORY-GUARD-FWD", "OUTPUT": "KUBEFACTORY-GUARD-OUT"}
NODE_COMPONENTS = ("containerd", "kubelet", "kube-proxy", "coredns")
NODE_STOP_ORDER = ("coredns", "kube-proxy", "kubelet", "containerd")
START_TIMEOUT = 120.0
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
)
# Debian package -> a file it installs (bookworm: containerd 1.6, runc 1.1, CNI plugins 1.1)
APT_PACKAGES = {
    "containerd": "/usr/bin/containerd",
    "runc": "/usr/sbin/runc",
    "containernetworking-plugins": "/usr/lib/cni/bridge",
    "iptables": "/usr/sbin/iptables",
    "conntrack": "/usr/sbin/conntrack",
}
CNI_BIN_DIR = "/usr/lib/cni"
CTR = "/usr/bin/ctr"
SHIM = "containerd-shim-runc-v2"
NETNS_DIR = Path("/var/run/netns")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def log(message: str) -> None:
    gobuild.log(f"node: {message}")


# --- where things are ------------------------------------------------------------------------------


def node_cache() -> Path:
    """``${KUBEFACTORY_CACHE}/node``: the host-level record and the containerd root (images)."""
    return layout.cache_root().parent / "node"


def owner_record() -> Path:
    return node_cache() / "owner.json"


@dataclass(frozen=True)
class NodeDir:
    """The node's files inside a cluster's state dir (``<state>/node``)."""

    root: Path

    @property
    def containerd_root(self) -> Path:
        return node_cache() / "containerd"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd-state"

    @property
    def runc_root(self) -> Path:
        """runc's own state, here rather than in /run/containerd (teardown's last resort reads it)."""
        return self.root / "runc"

    @property
    def socket(self) -> Path:
        return self.root / "containerd.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def cni_conf(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def ipam(self) -> Path:
        return self.root / "cni" / "ipam"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    def config(self, name: str) -> Path:
        return self.root / "config" / name


# --- recording what we change -----------------------------------------------------------------------


def read_sysctl(name: str) -> str | None:
    path = Path("/proc/sys") / name.replace(".", "/")
    try:
        return path.read_text().strip()
    except OSError:
        return None


def write_sysctl(name: str, value: str) -> None:
    path = Path("/proc/sys") / name.replace(".", "/")
    try:
        path.write_text(value)
    except OSError as error:
        log(f"could not set {name}={value}: {error}")


def record_owner(state_root: Path) -> dict[str, object]:
    """Write ``owner.json`` (the state dir and the original sysctls) before anything changes."""
    record: dict[str, object] = {
        "stateDir": str(state_root),
        "sysctls": {name: value for name in SYSCTLS if (value := read_sysctl(name)) is not None},
        "defaultInterface": default_interface(),
        "startedAt": time.time(),
    }
    node_cache().mkdir(parents=True, exist_ok=True)
    tmp = owner_record().with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, owner_record())
    return record


def read_owner() -> dict[str, object] | None:
    try:
        data: dict[str, object] = json.loads(owner_record().read_text())
        return data
    except (OSError, ValueError):
        return None


# --- host commands ------------------------------------------------------------------------------------


def run(*argv: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), text=True, capture_output=True, timeout=300)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    if not quiet and result.returncode != 0:
        log(f"(ignored) {' '.join(argv)}: {result.stderr.strip()}")
    return result


def default_interface() -> str:
    """The interface of the default route (pod traffic must never leave through it)."""
    result = run("ip", "-o", "route", "show", "default", check=False, quiet=True)
    parts = result.stdout.split()
    return parts[parts.index("dev") + 1] if "dev" in parts else "eth0"


def missing_packages() -> list[str]:
    return [package for package, path in APT_PACKAGES.items() if not Path(path).exists()]


def ensure_packages() -> None:
    """Install containerd, runc, the CNI plugins, iptables and conntrack from Debian if missing."""
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"the real node needs root to install {missing} (apt-get) and to run a kubelet")
    log(f"installing Debian packages {missing} (first time only; about a minute)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    subprocess.run(["apt-get", "install", "-y", "-q", *lock, *missing], check=True, env=env)


def check_host() -> None:
    """Fail early, with the reason, where this host cannot run a node."""
    if os.geteuid() != 0:
        raise RuntimeError("the real node needs root (containerd, kubelet, iptables, mounts)")
    if not (CGROUP_ROOT / "memory").is_dir() and not (CGROUP_ROOT / "cgroup.controllers").exists():
        raise RuntimeError(f"no cgroup hierarchy under {CGROUP_ROOT}")


# --- network ------------------------------------------------------------------------------------------


def create_bridge() -> None:
    if run("ip", "link", "show", BRIDGE, check=False, quiet=True).returncode != 0:
        run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "replace", f"{GATEWAY}/{SUBNET.split('/')[1]}", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")


def guard_rules(outward: str) -> dict[str, list[list[str]]]:
    """Pods talk to pods and to this host, never to anything through ``outward``.

    FORWARD: nothing from the pod subnet leaves through the host's interfaces. OUTPUT (the filter
    table runs after kube-proxy's DNAT): a Service address no rule translated is dropped rather
    than sent to the default route.
    """
    return {
        GUARD_CHAINS["FORWARD"]: [["-s", SUBNET, "!", "-o", BRIDGE, "-j", "DROP"]],
        GUARD_CHAINS["OUTPUT"]: [["-d", layout.SERVICE_CIDR, "-o", outward, "-j", "DROP"]],
    }


def install_guards(outward: str) -> None:
    for parent, chain in GUARD_CHAINS.items():
        run("iptables", "-N", chain, check=False, quiet=True)
        run("iptables", "-F", chain)
        for rule in guard_rules(outward)[chain]:
            run("iptables", "-A", chain, *rule)
        while run("iptables", "-D", parent, "-j", chain, check=False, quiet=True).returncode == 0:
            pass
        run("iptables", "-I", parent, "1", "-j", chain)


def remove_guards() -> None:
    for parent, chain in GUARD_CHAINS.items():
        while run("iptables", "-D", parent, "-j", chain, check=False, quiet=True).returncode == 0:
            pass
        run("iptables", "-F", chain, check=False, quiet=True)
        run("iptables", "-X", chain, check=False, quiet=True)


def cni_config() -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": "kubefactory",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,  # pods never leave the host; nothing to masquerade
                "hairpinMode": True,  # a pod reaching itself through its Service
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": SUBNET, "gateway": GATEWAY, "rangeStart": "10.250.0.10"}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": "",  # set by write_cni_config
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def write_cni_config(node: NodeDir) -> None:
    config = cni_config()
    plugins = config["plugins"]
    assert isinstance(plugins, list)
    plugins[0]["ipam"]["dataDir"] = str(node.ipam)
    node.cni_conf.mkdir(parents=True, exist_ok=True)
    node.ipam.mkdir(parents=True, exist_ok=True)
    (node.cni_conf / "10-kubefactory.conflist").write_text(json.dumps(config, indent=2) + "\n")


# --- containerd ---------------------------------------------------------------------------------------


def containerd_config(node: NodeDir, sandbox_image: str) -> str:
    """containerd 1.6 (config version 2) with its own root, state and socket.

    ``restrict_oom_score_adj``: the VM lacks CAP_SYS_RESOURCE, and without it every sandbox fails
    with "can't get final child's PID from pipe: EOF". cgroupfs, not systemd (no systemd here).
    """
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{node.containerd_root}"
state = "{node.containerd_state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{node.socket}"

[ttrpc]
  address = "{node.socket}.ttrpc"

[metrics]
  address = ""

[{cri}]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
  discard_unpacked_layers = false

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  BinaryName = "/usr/sbin/runc"
  Root = "{node.runc_root}"

[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{node.cni_conf}"
  max_conf_num = 1

[{cri}.registry]
  config_path = ""
"""


def ctr(node: NodeDir, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(CTR, f"--address={node.socket}", "--namespace=k8s.io", *args, check=check, quiet=not check)


def import_archives(socket: Path, archives: Iterable[Path]) -> None:
    """``ctr images import`` of image archives (for images not built from images/)."""
    for archive in archives:
        started = time.monotonic()
        log(f"importing {archive.name} into the node's containerd")
        argv = (CTR, f"--address={socket}", "--namespace=k8s.io", "images", "import", str(archive))
        run(*argv)
        log(f"  imported in {time.monotonic() - started:.0f}s")


def image_names(node: NodeDir) -> set[str]:
    listing = ctr(node, "images", "list", "--quiet", check=False).stdout
    return {line.strip() for line in listing.splitlines() if line.strip()}


# --- kubelet, kube-proxy, CoreDNS -----------------------------------------------------------------------


def kubelet_config(node: NodeDir, ports: dict[str, int]) -> dict[str, object]:
    """The kubelet's config on this host (cgroup v1 with a cgroup2 mount, no swap accounting, a VM
    without CAP_SYS_RESOURCE); webhook-less authn/authz so ``kubectl logs/exec`` work."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": GATEWAY,
        "port": ports["kubelet"],
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": ports["kubelet-healthz"],
        "containerRuntimeEndpoint": f"unix://{node.socket}",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "oomScoreAdj": 0,
        "imageGCHighThresholdPercent": 100,  # a collected image could not be pulled again
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "authentication": {
            "anonymous": {"enabled": True},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(node.root.parent / "pki" / "ca.crt")},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [GATEWAY],
        "clusterDomain": CLUSTER_DOMAIN,
        "podCIDR": SUBNET,
        "registerWithTaints": [NODE_TAINT],
        "serializeImagePulls": False,
        "resolvConf": str(node.config("resolv.conf")),
        "protectKernelDefaults": False,
        "makeIPTablesUtilChains": False,
        "staticPodPath": "",
        "shutdownGracePeriod": "0s",
        "maxPods": 60,
    }


def kubelet_args(binaries: layout.Binaries, node: NodeDir, state: layout.StateDir) -> list[str]:
    return [
        str(binaries.kubelet), f"--config={node.config('kubelet.json')}",
        f"--kubeconfig={state.component_kubeconfig(pki.KUBELET.name)}", f"--root-dir={node.kubelet_root}",
        f"--cert-dir={node.root / 'kubelet-pki'}", f"--hostname-override={NODE_NAME}",
        f"--node-ip={GATEWAY}", f"--node-labels={NODE_LABEL_KEY}={NODE_LABEL_VALUE}", "--v=1",
    ]  # fmt: skip


def kube_proxy_args(binaries: layout.Binaries, state: layout.StateDir, ports: dict[str, int]) -> list[str]:
    return [
        str(binaries.kube_proxy), f"--kubeconfig={state.component_kubeconfig(pki.KUBE_PROXY.name)}",
        "--proxy-mode=iptables", f"--hostname-override={NODE_NAME}", f"--cluster-cidr={SUBNET}",
        "--masquerade-all=true",  # replies of a pod reaching itself through a Service come back
        f"--healthz-bind-address=127.0.0.1:{ports['kube-proxy-healthz']}",
        f"--metrics-bind-address=127.0.0.1:{ports['kube-proxy-metrics']}",
        "--conntrack-max-per-core=0", "--conntrack-tcp-timeout-established=0s",
        "--conntrack-tcp-timeout-close-wait=0s",  # leave the conntrack sysctls alone
        "--iptables-localhost-nodeports=false", "--v=1",
    ]  # fmt: skip


def corefile(state: layout.StateDir, ports: dict[str, int]) -> str:
    """Cluster names only (no upstream: nothing here can reach outside)."""
    kubeconfig = state.component_kubeconfig(pki.COREDNS.name)
    return f""".:53 {{
    bind {GATEWAY}
    errors
    health 127.0.0.1:{ports["coredns-health"]}
    ready 127.0.0.1:{ports["coredns-ready"]}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig} kubefactory-{pki.COREDNS.user}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }}
    cache 5
}}
"""


NODE_PORT_NAMES = (
    "kubelet",
    "kubelet-healthz",
    "kube-proxy-healthz",
    "kube-proxy-metrics",
    "coredns-health",
    "coredns-ready",
)


# --- storage --------------------------------------------------------------------------------------------


def storage_manifests(node: NodeDir) -> list[dict[str, object]]:
    """A default StorageClass and a pool of hostPath volumes on the node, as a cluster's would bind."""
    manifests: list[dict[str, object]] = [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Retain",
        }
    ]
    for index in range(VOLUME_POOL):
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"kubefactory-local-{index:02d}", "labels": {NODE_LABEL_KEY: "real"}},
                "spec": {
                    "capacity": {"storage": VOLUME_CAPACITY},
                    "accessModes": ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": STORAGE_CLASS,
                    "hostPath": {"path": str(node.volumes / f"{index:02d}"), "type": "DirectoryOrCreate"},
                    "nodeAffinity": {
                        "required": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": NODE_LABEL_KEY, "operator": "In", "values": ["real"]}
                                    ]
                                }
                            ]
                        }
                    },
                },
            }
        )
    return manifests


def prepare_volumes(node: NodeDir) -> None:
    for index in range(VOLUME_POOL):
        path = node.volumes / f"{index:02d}"
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)  # pods run as uid 1000; hostPath volumes get no fsGroup ownership


# --- start ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeLaunch:
    binaries: layout.Binaries
    state: layout.StateDir
    ports: dict[str, int]
    tied: bool

    @property
    def node(self) -> NodeDir:
        return NodeDir(self.state.root / "node")

    def start(self, name: str, argv: list[str]) -> None:
        procs.start(self.state, name, argv, tied=self.tied)

    def wait(self, name: str, check: object, what: str) -> None:
        procs.wait_until(what, check, START_TIMEOUT, self.state, name)  # type: ignore[arg-type]


def prepare_host(launch: NodeLaunch) -> None:
    """Record, then change: sysctls, the bridge, the guard rules, the node's folders."""
    record = record_owner(launch.state.root)
    write_sysctl("net.ipv4.ip_forward", "1")
    create_bridge()
    install_guards(str(record["defaultInterface"]))
    node = launch.node
    for folder in (
        node.root,
        node.containerd_root,
        node.containerd_state,
        node.kubelet_root,
        node.root / "config",
    ):
        folder.mkdir(parents=True, exist_ok=True)
    node.config("resolv.conf").write_text(f"nameserver {GATEWAY}\n")  # pods with dnsPolicy Default
    write_cni_config(node)
    prepare_volumes(node)


def start_containerd(launch: NodeLaunch, sandbox_image: str) -> None:
    node = launch.node
    node.config("containerd.toml").write_text(containerd_config(node, sandbox_image))
    launch.start("containerd", ["/usr/bin/containerd", f"--config={node.config('containerd.toml')}"])
    launch.wait("containerd", lambda: ctr(launch.node, "version", check=False).returncode == 0, "containerd")


def start_kubelet(launch: NodeLaunch) -> None:
    node = launch.node
    node.config("kubelet.json").write_text(json.dumps(kubelet_config(node, launch.ports), indent=2) + "\n")
    launch.start("kubelet", kubelet_args(launch.binaries, node, launch.state))
    url = f"http://127.0.0.1:{launch.ports['kubelet-healthz']}/healthz"
    launch.wait("kubelet", procs.http_check(url), url)


def start_kube_proxy(launch: NodeLaunch) -> None:
    launch.start("kube-proxy", kube_proxy_args(launch.binaries, launch.state, launch.ports))
    url = f"http://127.0.0.1:{launch.ports['kube-proxy-healthz']}/healthz"
    launch.wait("kube-proxy", procs.http_check(url), url)
    install_guards(default_interface())  # first again: kube-proxy inserts its jumps above ours


def start_coredns(launch: NodeLaunch) -> None:
    path = launch.node.config("Corefile")
    path.write_text(corefile(launch.state, launch.ports))
    launch.start("coredns", [str(launch.binaries.coredns), "-conf", str(path)])
    url = f"http://127.0.0.1:{launch.ports['coredns-ready']}/ready"
    launch.wait("coredns", procs.http_check(url), url)


def start_node(
    binaries: layout.Binaries,
    state: layout.StateDir,
    tied: bool,
    sandbox_image: str,
    load_images: Callable[[Path], None],
) -> NodeLaunch:
    """Host set-up, containerd, the images (``load_images(socket)``), kubelet, kube-proxy, CoreDNS."""
    ports = dict(zip(NODE_PORT_NAMES, procs.free_ports(len(NODE_PORT_NAMES)), strict=True))
    launch = NodeLaunch(binaries, state, ports, tied)
    prepare_host(launch)
    start_containerd(launch, sandbox_image)
    load_images(launch.node.socket)
    start_kubelet(launch)
    start_kube_proxy(launch)
    start_coredns(launch)
    (launch.node.root / "ports.json").write_text(json.dumps(ports, indent=2) + "\n")
    return launch


# --- teardown -------------------------------------------------------------------------------------------


def mounts_under(roots: Sequence[Path], table: Path = Path("/proc/self/mounts")) -> list[str]:
    """Mount points at or below any of ``roots``, deepest first."""
    prefixes = [str(root.resolve()) for root in roots if str(root)]
    found = []
    for line in table.read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if any(point == prefix or point.startswith(prefix + "/") for prefix in prefixes):
            found.append(point)
    return sorted(set(found), key=lambda point: point.count("/"), reverse=True)


def unmount_all(roots: Sequence[Path]) -> None:
    for _ in range(5):  # a mount can hide another one mounted on the same point
        points = mounts_under(roots)
        if not points:
            return
        for point in points:
            run("umount", "-l", point, check=False, quiet=True)


def shim_pids(socket: Path) -> list[int]:
    """containerd shims started for our socket (they outlive containerd by design)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].decode(errors="replace").endswith(SHIM) and str(socket).encode() in argv:
            pids.append(int(entry.name))
    return pids


def node_pids(node: NodeDir) -> list[int]:
    """Node components still running with our files in their arguments (pid files may be gone)."""
    pids = []
    marker = str(node.root).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = Path(argv[0].decode(errors="replace")).name if argv else ""
        if name in NODE_COMPONENTS and any(marker in arg for arg in argv):
            pids.append(int(entry.name))
    return pids


def stop_named(state: layout.StateDir, names: Sequence[str]) -> None:
    for name in names:
        entry = procs.read_pidfile(state.pids / f"{name}.pid")
        if entry and procs.is_running(*entry):
            procs.stop_pid(*entry)
        (state.pids / f"{name}.pid").unlink(missing_ok=True)


def kill_pids(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        for pid in pids:
            procs.reap(pid)
        time.sleep(0.1)


def is_containerd(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"containerd")
    return False


def remove_containers(node: NodeDir) -> None:
    """Kill and delete every container (pods' and sandboxes') while containerd still runs."""
    if ctr(node, "version", check=False).returncode != 0:
        return
    tasks = ctr(node, "tasks", "list", "--quiet", check=False).stdout.split()
    for task in tasks:
        ctr(node, "tasks", "kill", "--signal=SIGKILL", "--all", task, check=False)
    deadline = time.monotonic() + 15
    for task in tasks:
        while time.monotonic() < deadline and ctr(node, "tasks", "delete", task, check=False).returncode != 0:
            time.sleep(0.2)
    for container in ctr(node, "containers", "list", "--quiet", check=False).stdout.split():
        ctr(node, "containers", "delete", container, check=False)


@contextlib.contextmanager
def containerd_running(state: layout.StateDir, node: NodeDir) -> Iterator[None]:
    """containerd, restarted for the clean-up if it died with a killed session (its shims did not)."""
    config = node.config("containerd.toml")
    if ctr(node, "version", check=False).returncode == 0 or not config.exists():
        yield
        return
    log("restarting containerd to remove the containers a killed session left")
    procs.start(state, "containerd", ["/usr/bin/containerd", f"--config={config}"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and ctr(node, "version", check=False).returncode != 0:
        time.sleep(0.2)
    yield


def remove_runc_containers(node: NodeDir) -> None:
    """Last resort: containers whose shim is gone are still runc containers."""
    if not node.runc_root.is_dir():
        return
    for namespace in node.runc_root.iterdir():
        listing = run("runc", f"--root={namespace}", "list", "--quiet", check=False, quiet=True).stdout
        for container in listing.split():
            run("runc", f"--root={namespace}", "delete", "--force", container, check=False, quiet=True)


def remove_netns() -> None:
    """CNI network namespaces (``cni-*``), which keep the pods' veths alive while mounted."""
    if not NETNS_DIR.is_dir():
        return
    for path in NETNS_DIR.glob("cni-*"):
        run("umount", "-l", str(path), check=False, quiet=True)
        with contextlib.suppress(OSError):
            path.unlink()


def remove_kubepods_cgroups() -> None:
    for hierarchy in CGROUP_ROOT.iterdir() if CGROUP_ROOT.is_dir() else []:
        top = hierarchy / "kubepods"
        if not top.is_dir():
            continue
        for folder in sorted(
            (p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        ):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def restore_sysctls(record: dict[str, object]) -> None:
    values = record.get("sysctls")
    for name, value in values.items() if isinstance(values, dict) else []:
        if read_sysctl(name) != value:
            write_sysctl(name, str(value))


def kube_proxy_cleanup(binaries: layout.Binaries) -> None:
    """kube-proxy's own clean-up, then any ``KUBE-*`` chain left (the kubelet's firewall and canaries)."""
    if binaries.kube_proxy.exists():
        run(str(binaries.kube_proxy), "--cleanup", "--proxy-mode=iptables", check=False, quiet=True)
    for table in ("filter", "nat", "mangle"):
        rules = run("iptables", "-t", table, "-S", check=False, quiet=True).stdout.splitlines()
        for rule in rules:
            parts = rule.split()
            jumps_to_kube = "-j" in parts and parts[parts.index("-j") + 1].startswith("KUBE-")
            if parts[:1] == ["-A"] and not parts[1].startswith("KUBE-") and jumps_to_kube:
                run("iptables", "-t", table, "-D", *parts[1:], check=False, quiet=True)
        chains = [rule.split()[1] for rule in rules if rule.startswith("-N KUBE-")]
        for chain in chains:
            run("iptables", "-t", table, "-F", chain, check=False, quiet=True)
        for chain in chains:
            run("iptables", "-t", table, "-X", chain, check=False, quiet=True)


def teardown(state_root: Path | None = None) -> bool:
    """Undo the node recorded in ``owner.json`` (or the one in ``state_root``); True if there was one.

    Order: processes that manage containers stop first (the kubelet, so nothing restarts them),
    then containers and their shims, then mounts, network, cgroups, sysctls — and only then are
    the node's folders removed, so no rmtree ever walks into a live mount.
    """
    record = read_owner()
    recorded_root = Path(str(record["stateDir"])) if record else None
    root = recorded_root or state_root
    if root is None:
        return False
    state = layout.StateDir(root)
    node = NodeDir(root / "node")
    binaries = layout.Binaries.default()
    stop_named(state, ["coredns", "kube-proxy", "kubelet"])
    kill_pids([pid for pid in node_pids(node) if not is_containerd(pid)])
    with containerd_running(state, node):
        remove_containers(node)
    stop_named(state, ["containerd"])
    kill_pids(node_pids(node) + shim_pids(node.socket))
    remove_runc_containers(node)
    unmount_all([node.kubelet_root, node.containerd_state, node.root])
    remove_netns()
    kube_proxy_cleanup(binaries)
    remove_guards()
    run("ip", "link", "delete", BRIDGE, check=False, quiet=True)
    remove_kubepods_cgroups()
    if record:
        restore_sysctls(record)
    if not mounts_under([node.root]):
        shutil.rmtree(node.root, ignore_errors=True)
    else:
        log(f"mounts remain under {node.root}; left in place: {mounts_under([node.root])}")
    owner_record().unlink(missing_ok=True)
    return record is not None or node.root.exists()


def leftovers() -> dict[str, list[str]]:
    """What a node would leave behind on this host (empty lists: nothing): for tests and docs."""
    processes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if Path(argv0).name in ("kubelet", "kube-proxy", "containerd", "coredns", SHIM):
            processes.append(f"{entry.name} {argv0}")
    cgroups = [str(path) for path in CGROUP_ROOT.glob("*/kubepods")] if CGROUP_ROOT.is_dir() else []
    links = [BRIDGE] if run("ip", "link", "show", BRIDGE, check=False, quiet=True).returncode == 0 else []
    chains = [
        chain
        for chain in GUARD_CHAINS.values()
        if run("iptables", "-L", chain, "-n", check=False, quiet=True).returncode == 0
    ]
    mounts = [
        point
        for line in Path("/proc/self/mounts").read_text().splitlines()
        if "/kubelet" in (point := line.split()[1]) or "containerd-state" in point or "/netns/cni-" in point
    ]
    return {"processes": processes, "cgroups": cgroups, "links": links, "iptables": chains, "mounts": mounts}
