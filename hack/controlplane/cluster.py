"""A real local Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok).

CLI (standard library only)::

    python3 hack/controlplane/cluster.py build
    python3 hack/controlplane/cluster.py up --state-dir .cluster
    python3 hack/controlplane/cluster.py status --state-dir .cluster
    python3 hack/controlplane/cluster.py down --state-dir .cluster

Python API (used by tests/integration/conftest.py): :func:`build`, :func:`up`, :func:`apply_crds`,
:func:`down`, :func:`status` and :class:`Cluster`. The CLI's ``up`` also applies ``crds/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: register the `hack` namespace by hand rather than putting the repo root on
    # sys.path, where the project's `operator/` would shadow the standard library's `operator`.
    import types

    _hack = types.ModuleType("hack")
    _hack.__path__ = [str(Path(__file__).resolve().parents[1])]
    sys.modules.setdefault("hack", _hack)

from hack.controlplane import components, fakenodes, gobuild, layout, node, pki, procs
from hack.controlplane.components import COMPONENTS, START_TIMEOUT, Launch
from hack.controlplane.layout import Binaries, StateDir

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_ORDER = tuple(reversed(COMPONENTS))
STATE_FOLDERS = ("logs", "pids", "pki", "etcd", "manifests", "certs-kcm", "certs-scheduler", "node")
STATE_FILES = ("cluster.json", "kubeconfig")


def log(message: str) -> None:
    gobuild.log(message)


def kubectl_binary() -> str:
    """``$KUBECTL``, else the cached kubectl of the server's version, else ``kubectl`` on PATH."""
    cached = Binaries.default().kubectl
    found = os.environ.get("KUBECTL") or (str(cached) if cached.is_file() else shutil.which("kubectl"))
    if not found:
        raise RuntimeError("kubectl not found; run `cluster.py build` or set $KUBECTL")
    return found


@dataclass(frozen=True)
class Cluster:
    """A running local cluster, described by its state dir."""

    state_dir: Path

    @property
    def state(self) -> StateDir:
        return StateDir(self.state_dir)

    @property
    def kubeconfig(self) -> Path:
        return self.state.kubeconfig

    @property
    def operator_kubeconfig(self) -> Path:
        return self.state.operator_kubeconfig

    @property
    def info(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.state.info.read_text())
        return data

    @property
    def server(self) -> str:
        return str(self.info["server"])

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, kubeconfig: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster (admin identity unless ``kubeconfig`` is given)."""
        cmd = [kubectl_binary(), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        result = subprocess.run(
            cmd, input=input, capture_output=True, timeout=120, encoding="utf-8", errors="replace"
        )  # pod logs may cut a UTF-8 character (progress bars)
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr}{result.stdout}"
            )
        return result

    def is_healthy(self) -> bool:
        """The apiserver answers /readyz with our admin token."""
        required = (self.state.info, self.state.kubeconfig, self.state.pki / "tokens.csv")
        if not all(path.exists() for path in required):
            return False
        token = pki.read_tokens(self.state.pki)["admin"]
        return procs.http_ok(f"{self.server}/readyz", components.ca_context(self.state), token)


def build() -> Binaries:
    """Build every binary that is not cached yet (seconds when all are)."""
    return gobuild.build_all()


def ensure_built() -> Binaries:
    return build() if gobuild.missing_binaries() else Binaries.default()


def prepare(real_node: bool = False, images: NodeImages | None = None) -> Binaries:
    """Everything ``up`` would build or install first, without starting anything.

    Test sessions call it before their first test: a cold build takes 15 minutes or more and
    must not count against one test's timeout (nor leave a half-finished ``go build`` behind it).
    """
    binaries = ensure_built()
    if real_node:
        node.check_host()
        node.ensure_packages()
        if not binaries.coredns.exists():
            binaries = gobuild.build_node_tools()
        (images or NodeImages()).build()
    return binaries


# --- start-up steps -------------------------------------------------------------------------


def create_nodes(cluster: Cluster) -> None:
    manifest = json.dumps(fakenodes.node_list())
    cluster.kubectl(
        "apply", "--server-side", "--field-manager=kubefactory-controlplane", "-f", "-", input=manifest
    )
    timeout = f"--timeout={START_TIMEOUT:.0f}s"
    cluster.kubectl("wait", "--for=condition=Ready", "node", "-l", "type=kwok", timeout)


class CrdError(RuntimeError):
    """The API server rejected a CRD (the message is kubectl's)."""


def apply_crds(cluster: Cluster, crds: Path = REPO_ROOT / "crds") -> list[str]:
    """Apply every YAML file under ``crds`` server-side; wait until each CRD is Established.

    Returns the applied CRDs' names (``[]`` when the folder is missing or empty).
    """
    if not crds.is_dir() or not any(crds.rglob("*.y*ml")):
        return []
    args = ("apply", "--server-side", "--force-conflicts", "--field-manager=kubefactory-controlplane")
    applied = cluster.kubectl(*args, "-R", "-f", str(crds), "-o", "name", check=False)
    if applied.returncode != 0:
        raise CrdError(f"applying {crds} failed:\n{applied.stderr.strip()}")
    names = [name for name in applied.stdout.split() if name.startswith("customresourcedefinition")]
    if names:
        cluster.kubectl("wait", "--for=condition=Established", f"--timeout={START_TIMEOUT:.0f}s", *names)
    return names


def write_info(launch: Launch) -> None:
    info = {
        "server": launch.server,
        "ports": launch.ports,
        "kubernetesVersion": layout.KUBERNETES_VERSION,
        "etcdVersion": layout.ETCD_VERSION,
        "kwokVersion": layout.KWOK_VERSION,
    }
    launch.state.info.write_text(json.dumps(info, indent=2) + "\n")


def start_cluster(state: StateDir, binaries: Binaries, tied: bool, real_node: bool = False) -> Cluster:
    for directory in (state.root, state.logs, state.pids, state.manifests):
        directory.mkdir(parents=True, exist_ok=True)
    ports = dict(zip(components.PORT_NAMES, procs.free_ports(len(components.PORT_NAMES)), strict=True))
    launch = Launch(binaries, state, ports, tied, real_node)
    write_info(launch)
    components.start_all(launch, pki.create_pki(state.pki))
    cluster = Cluster(state.root)
    create_nodes(cluster)
    return cluster


@dataclass(frozen=True)
class NodeImages:
    """What the real node's containerd gets: the sandbox image's name, and archives to import, or
    ``project`` for the images built from images/ (hack/images: built or found cached, imported
    unless containerd already has the same digest)."""

    sandbox: str = node.DEFAULT_SANDBOX_IMAGE
    archives: tuple[Path, ...] = ()
    project: bool = True

    def build(self) -> None:
        if self.project:
            from hack.images import build as images
            from hack.images import names

            images.build(names.LOCAL_IMAGES)

    def load(self, socket: Path) -> None:
        if self.project:
            from hack.images import build as images
            from hack.images import names

            self.build()
            images.import_images(str(socket), names.LOCAL_IMAGES)
        node.import_archives(socket, self.archives)


def join_real_node(cluster: Cluster, binaries: Binaries, tied: bool, images: NodeImages) -> None:
    """containerd, kubelet, kube-proxy and CoreDNS on this host; wait until the Node is Ready;
    then the node's StorageClass and volumes."""
    started = time.monotonic()
    node.start_node(binaries, cluster.state, tied, images.sandbox, images.load)
    cluster.kubectl(
        "wait", "--for=condition=Ready", f"node/{node.NODE_NAME}", f"--timeout={node.START_TIMEOUT:.0f}s"
    )
    manifests = {
        "apiVersion": "v1",
        "kind": "List",
        "items": node.storage_manifests(node.NodeDir(cluster.state.root / "node")),
    }
    cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=kubefactory-controlplane",
        "-f",
        "-",
        input=json.dumps(manifests),
    )
    log(f"real node {node.NODE_NAME} Ready in {time.monotonic() - started:.1f}s")


def clean_stale_node(state: StateDir, real_node: bool) -> None:
    """A real node recorded on this host whose kubelet is gone (a killed session) is torn down; so
    is a live one of another cluster when this one wants the host's only real node."""
    record = node.read_owner()
    if record is None:
        return
    owner = StateDir(Path(str(record["stateDir"])))
    alive = "kubelet" in procs.running(owner)
    if alive and not (real_node or owner.root == state.root):
        return
    log(f"tearing down the real node of {owner.root} ({'running' if alive else 'left by a stopped session'})")
    if alive and owner.root != state.root:
        down(owner.root)
    else:
        node.teardown()


def up(
    state_dir: Path | str, tied: bool = False, real_node: bool = False, images: NodeImages | None = None
) -> Cluster:
    """Start a cluster in ``state_dir`` (or reuse a healthy one there); returns it.

    ``tied``: the components die with this Python process, for test sessions that may be
    killed before their teardown. CRDs are separate: :func:`apply_crds`. ``real_node``: a
    kubelet with containerd joins the kwok nodes (root only; ``images`` are imported into it).
    """
    state = StateDir(Path(state_dir).resolve())
    cluster = Cluster(state.root)
    wanted = set(COMPONENTS) | (set(node.NODE_COMPONENTS) if real_node else set())
    if cluster.is_healthy() and set(procs.running(state)) >= wanted:
        log(f"already running: {cluster.server} (kubeconfig {cluster.kubeconfig})")
        return cluster
    clean_stale_node(state, real_node)
    if state.root.is_dir() and any(state.root.iterdir()):
        log(f"cleaning stale state in {state.root}")
        down(state.root)
    binaries = prepare(real_node, images)
    started = time.monotonic()
    try:
        cluster = start_cluster(state, binaries, tied, real_node)
        if real_node:
            join_real_node(cluster, binaries, tied, images or NodeImages())
    except BaseException:
        if real_node:
            node.teardown(state.root)
        procs.stop_all(state, STOP_ORDER)
        log(f"start-up failed; logs kept in {state.logs}")
        raise
    log(f"cluster up in {time.monotonic() - started:.1f}s: {cluster.server}")
    log(f"  export KUBECONFIG={cluster.kubeconfig}")
    log(f"  operator (no RBAC) kubeconfig: {cluster.operator_kubeconfig}")
    log(f"  kubectl of the server's version: {kubectl_binary()}")
    return cluster


def restart_apiserver(cluster: Cluster, tied: bool = True) -> float:
    """Stop the API server (SIGTERM, then SIGKILL) and start it again on the same port, with the
    same certificates and etcd; the seconds until it answers ``/readyz`` again. For chaos tests:
    every watch breaks and every client must reconnect."""
    state = cluster.state
    entry = procs.read_pidfile(state.pids / "kube-apiserver.pid")
    if entry is not None:
        procs.stop_pid(*entry, grace=5.0)
    ports = {str(k): int(v) for k, v in dict(cluster.info["ports"]).items()}  # type: ignore[call-overload]
    launch = Launch(ensure_built(), state, ports, tied)
    started = time.monotonic()
    launch.start("kube-apiserver", components.apiserver_args(launch))
    token = pki.read_tokens(state.pki)[pki.ADMIN.name]
    launch.wait("kube-apiserver", f"{launch.server}/readyz", components.ca_context(state), token)
    return time.monotonic() - started


def remove_state(state: StateDir) -> None:
    """Delete what ``up`` wrote, then the folder if that left it empty (never anything else)."""
    if not state.root.is_dir():
        return
    for path in state.root.iterdir():
        if path.is_dir() and path.name in STATE_FOLDERS:
            shutil.rmtree(path)
        elif path.is_file() and (path.name in STATE_FILES or path.name.endswith(".kubeconfig")):
            path.unlink()
    with contextlib.suppress(OSError):
        state.root.rmdir()


def down(state_dir: Path | str) -> list[str]:
    """Undo the real node (if this cluster has one, or a killed session left one), stop every
    component (SIGTERM, then SIGKILL) and remove the state dir."""
    state = StateDir(Path(state_dir).resolve())
    record = node.read_owner()
    stopped = []
    if record is not None and (
        Path(str(record["stateDir"])) == state.root
        or "kubelet" not in procs.running(StateDir(Path(str(record["stateDir"]))))
    ):
        stopped = [
            name
            for name in node.NODE_STOP_ORDER
            if name in procs.running(StateDir(Path(str(record["stateDir"]))))
        ]
        node.teardown()
        # a killed session's control plane too: its API server can hang in its graceful shutdown
        # (its etcd died with the session), so it outlives the session's death signal
        stopped += procs.stop_all(StateDir(Path(str(record["stateDir"]))), STOP_ORDER)
    elif (state.root / "node").exists():
        node.teardown(state.root)
    stopped += procs.stop_all(state, STOP_ORDER)
    remove_state(state)
    return stopped


def status(state_dir: Path | str) -> dict[str, object]:
    state = StateDir(Path(state_dir).resolve())
    cluster = Cluster(state.root)
    result: dict[str, object] = {"stateDir": str(state.root), "running": procs.running(state)}
    if state.info.exists():
        result.update(server=cluster.server, healthy=cluster.is_healthy(), kubeconfig=str(cluster.kubeconfig))
    return result


# --- command line -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build and cache the binaries (seconds when cached)")
    for name, text in (
        ("up", "start a cluster"),
        ("down", "stop it and remove its state"),
        ("status", "show what runs"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--state-dir", type=Path, default=Path(".cluster"))
        if name == "up":
            command.add_argument(
                "--node",
                choices=("kwok", "real"),
                default="kwok",
                help="real: also join a real node (containerd, runc, kubelet) on this host; needs root",
            )
            command.add_argument(
                "--image-archive",
                type=Path,
                action="append",
                default=[],
                help="an OCI/docker image archive to import into the real node (repeatable)",
            )
            command.add_argument("--sandbox-image", default=node.DEFAULT_SANDBOX_IMAGE)
            command.add_argument(
                "--no-project-images",
                action="store_true",
                help="do not build and import images/ (operator, runtime-cpu, pause) into the real node",
            )
    return parser.parse_args(argv)


def up_command(args: argparse.Namespace) -> int:
    """``up``, then apply the repo's CRDs; a rejected CRD leaves the cluster running."""
    images = NodeImages(args.sandbox_image, tuple(args.image_archive), project=not args.no_project_images)
    cluster = up(args.state_dir, real_node=args.node == "real", images=images)
    try:
        if names := apply_crds(cluster):
            log(f"applied {len(names)} CRDs from crds/, all Established")
    except CrdError as error:
        log(f"{error}\nThe cluster keeps running; fix the CRDs and run this command again.")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "up":
        return up_command(args)
    if args.command == "build":
        build()
    elif args.command == "down":
        stopped = down(args.state_dir)
        log(f"stopped: {', '.join(stopped) or 'nothing was running'}; removed {args.state_dir}")
    else:
        print(json.dumps(status(args.state_dir), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
