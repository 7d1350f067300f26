"""Background processes with pid files and logs, free ports, and health polling."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from hack.controlplane.layout import StateDir

STOP_GRACE_SECONDS = 10.0
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held open together while chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when its parent exits (best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start(state: StateDir, name: str, argv: Sequence[str], tied: bool = False) -> int:
    """Start ``argv`` detached (own session), log to logs/NAME.log, pid in pids/NAME.pid.

    ``tied``: the process also dies when this Python process does (for test sessions that
    may be killed before their teardown runs); otherwise it outlives us (``cluster.py up``).
    """
    state.logs.mkdir(parents=True, exist_ok=True)
    state.pids.mkdir(parents=True, exist_ok=True)
    with (state.logs / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            cwd=state.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent if tied else None,
        )
    (state.pids / f"{name}.pid").write_text(f"{process.pid}\n{argv[0]}\n")
    return process.pid


def read_pidfile(path: Path) -> tuple[int, str] | None:
    try:
        pid_line, binary, *_ = path.read_text().splitlines()
        return int(pid_line), binary
    except (OSError, ValueError):
        return None


def reap(pid: int) -> None:
    """Collect an exited child of this process (no-op for others)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_running(pid: int, binary: str) -> bool:
    """True if ``pid`` is alive and still runs ``binary`` (guards against pid reuse)."""
    reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # not Linux: trust the pid
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        argv0 = cmdline.read_bytes().split(b"\0")[0].decode()
        return status != "Z" and argv0 in ("", binary)  # "": still inside execve
    except (OSError, IndexError):
        return False


def running(state: StateDir) -> dict[str, int]:
    """Component name -> pid, for every pid file whose process still runs."""
    result = {}
    for path in sorted(state.pids.glob("*.pid")) if state.pids.is_dir() else []:
        entry = read_pidfile(path)
        if entry and is_running(*entry):
            result[path.stem] = entry[0]
    return result


def stop_pid(pid: int, binary: str, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not is_running(pid, binary):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and is_running(pid, binary):
            time.sleep(0.1)


def stop_all(state: StateDir, order: Sequence[str]) -> list[str]:
    """Stop components in ``order`` (then any others); returns the names stopped."""
    if not state.pids.is_dir():
        return []
    names = [path.stem for path in state.pids.glob("*.pid")]
    names.sort(key=lambda name: order.index(name) if name in order else -1)
    stopped = []
    for name in names:
        entry = read_pidfile(state.pids / f"{name}.pid")
        if entry and is_running(*entry):
            stop_pid(*entry)
            stopped.append(name)
        (state.pids / f"{name}.pid").unlink(missing_ok=True)
    return stopped


def http_ok(url: str, context: ssl.SSLContext | None = None, token: str | None = None) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def http_check(
    url: str, context: ssl.SSLContext | None = None, token: str | None = None
) -> Callable[[], bool]:
    """A no-argument probe for :func:`wait_until`."""
    return lambda: http_ok(url, context, token)


def insecure_context() -> ssl.SSLContext:
    """For the scheduler's and controller-manager's self-signed health endpoints."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def log_tail(state: StateDir, name: str, lines: int = 30) -> str:
    path = state.logs / f"{name}.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def wait_until(what: str, check: Callable[[], bool], timeout: float, state: StateDir, component: str) -> None:
    """Poll ``check`` until true; fail early with the log tail if the component died."""
    deadline = time.monotonic() + timeout
    pidfile = read_pidfile(state.pids / f"{component}.pid")
    while time.monotonic() < deadline:
        if check():
            return
        if pidfile and not is_running(*pidfile):
            raise RuntimeError(
                f"{component} exited while waiting for {what}; log tail:\n{log_tail(state, component)}"
            )
        time.sleep(0.2)
    raise TimeoutError(
        f"timed out after {timeout:.0f}s waiting for {what}; {component} log tail:\n{log_tail(state, component)}"
    )
