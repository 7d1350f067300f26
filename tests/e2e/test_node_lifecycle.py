"""The real node leaves nothing behind: a test session holding a node with a running pod is killed
with SIGKILL, and the next ``cluster-down`` (of another state dir, as a user would run it) removes
every process, mount, cgroup, link and chain, and restores the sysctls.

Runs before the quickstart journey (file order): the host has room for one real node at a time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from hack.controlplane import cluster as controlplane  # hack/ registered by conftest.py
from hack.controlplane import node

REPO_ROOT = Path(__file__).resolve().parents[2]

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "sleeper", "namespace": "default"},
    "spec": {
        "nodeSelector": {node.NODE_LABEL_KEY: node.NODE_LABEL_VALUE},
        "tolerations": [node.NODE_TOLERATION],
        "containers": [{"name": "pause", "image": node.DEFAULT_SANDBOX_IMAGE, "imagePullPolicy": "Never"}],
    },
}

SESSION = textwrap.dedent(
    """
    import json, sys, time, types
    from pathlib import Path
    hack = types.ModuleType("hack"); hack.__path__ = [sys.argv[1] + "/hack"]; sys.modules["hack"] = hack
    from hack.controlplane import cluster
    from hack.images import build as images
    pause = images.build(["pause"])["pause"].path
    c = cluster.up(sys.argv[2], tied=True, real_node=True, images=cluster.NodeImages(archives=(pause,), project=False))
    c.kubectl("apply", "-f", "-", input=sys.argv[3])
    c.kubectl("wait", "--for=condition=Ready", "pod/sleeper", "--timeout=120s")
    print("READY", flush=True)
    time.sleep(600)
    """
)


def test_a_killed_session_node_is_fully_undone_by_the_next_cluster_down(
    tmp_path: Path, real_node_host: None
) -> None:
    sysctls = {name: node.read_sysctl(name) for name in node.SYSCTLS}
    session = subprocess.Popen(
        [sys.executable, "-c", SESSION, str(REPO_ROOT), str(tmp_path / "killed"), json.dumps(POD)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    assert session.stdout is not None
    deadline = time.monotonic() + 300
    for line in session.stdout:
        output.append(line)
        if line.strip() == "READY" or time.monotonic() > deadline:
            break
    assert output and output[-1].strip() == "READY", "".join(output[-40:])

    os.kill(session.pid, signal.SIGKILL)
    session.wait(timeout=30)
    time.sleep(2)  # the tied components get their SIGTERM from the kernel
    shims = node.shim_pids(node.NodeDir(tmp_path / "killed" / "node").socket)
    assert shims, "the pod's containerd shim should outlive the killed session (or this test proves nothing)"

    controlplane.down(tmp_path / "another")  # the next `make cluster-down`, anywhere
    assert node.leftovers() == {"processes": [], "cgroups": [], "links": [], "iptables": [], "mounts": []}
    assert {name: node.read_sysctl(name) for name in node.SYSCTLS} == sysctls
    assert node.read_owner() is None
    assert not (tmp_path / "killed" / "node").exists()
    killed = str(tmp_path / "killed").encode()
    survivors = [
        entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit() and killed in _cmdline(entry)
    ]
    assert not survivors, f"processes of the killed session remain: {survivors}"


def _cmdline(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:
        return b""
