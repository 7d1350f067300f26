"""images/pause/pause.go, built with the host's Go: it idles, reaps orphans as PID 1, exits on TERM/INT."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from image_helpers import REPO_ROOT

GO = os.environ.get("GO") or shutil.which("go") or "/usr/local/go/bin/go"


@pytest.fixture(scope="module")
def pause_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not Path(GO).exists() and shutil.which(GO) is None:
        pytest.skip("no Go toolchain to build images/pause/pause.go")
    out = tmp_path_factory.mktemp("pause") / "pause"
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    subprocess.run(
        [GO, "build", "-trimpath", "-o", str(out), "."],
        cwd=REPO_ROOT / "images/pause",
        env=env,
        check=True,
        timeout=300,
    )
    return out


def test_version_and_bad_arguments(pause_binary: Path) -> None:
    assert subprocess.run([pause_binary, "-v"], capture_output=True, text=True, check=True).stdout.startswith(
        "kubefactory-pause"
    )
    assert subprocess.run([pause_binary, "--nope"], capture_output=True).returncode == 2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stays_up_until_told_to_stop(pause_binary: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen([pause_binary], stderr=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
        proc.send_signal(sig)
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
        proc.wait()


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.append((int(entry.name), fields[0]))
    return found


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("nsenter") is None,
                    reason="needs root, unshare and nsenter for a PID namespace")  # fmt: skip
def test_reaps_orphans_as_pid_one(pause_binary: Path) -> None:
    """An orphan in the pod's PID namespace is re-parented to pause, which must collect it."""
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", str(pause_binary)], stderr=subprocess.PIPE, text=True
    )
    pause_pid = 0
    try:
        deadline = time.monotonic() + 5
        while not (children := _children(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert children, "pause did not start inside the PID namespace"
        pause_pid = children[0][0]
        # sh exits at once; its background sleep becomes an orphan of the namespace, i.e. pause's child
        subprocess.run(["nsenter", "-t", str(pause_pid), "-p", "--", "sh", "-c", "sleep 0.3 &"], check=True)
        deadline = time.monotonic() + 5
        while not _children(pause_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _children(pause_pid), "the orphan was not re-parented to pause"
        deadline = time.monotonic() + 5
        while _children(pause_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _children(pause_pid) == [], f"pause left {_children(pause_pid)} unreaped"
        os.kill(pause_pid, signal.SIGTERM)  # unshare itself ignores TERM while it waits
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()  # --kill-child takes pause down with it
            proc.wait()
