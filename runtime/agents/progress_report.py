"""`kubefactory report-progress -- COMMAND...`: run COMMAND and publish its progress record.

What every training pod of a FineTuneJob runs around torchrun. On node rank 0 it copies the
trainer's progress record (``output_dir/progress.json``, written by the runtime's trainer
callback) into the job's progress ConfigMap whenever the file changes, and once more when the
command ends. The pod's ServiceAccount may get/patch that one ConfigMap and nothing else. When the
command ends, the last record also goes to the termination message. The exit code is COMMAND's.

Only the standard library talks to the API server here (a merge PATCH with the pod's token): the
runtime depends on no Kubernetes client.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..contract.names import PROGRESS_CONFIGMAP_ENV, PROGRESS_KEY, TERMINATION_LIMIT

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
SUMMARY = "run a command (torchrun) and publish its training progress to the job's progress ConfigMap"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report-progress",
        help=SUMMARY,
        description=SUMMARY,
        usage="kubefactory report-progress [options] -- COMMAND ...",
    )
    parser.add_argument("--file", required=True, help="the progress record the trainer writes")
    parser.add_argument("--config-map", help=f"ConfigMap to publish to; default: ${PROGRESS_CONFIGMAP_ENV}")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between checks of the file")
    parser.add_argument(
        "--termination-log", default="/dev/termination-log", help="where the last record goes at exit"
    )
    parser.add_argument("--api-server", help="API server URL; default: the in-cluster one")
    parser.add_argument(
        "wrapped", nargs=argparse.REMAINDER, metavar="COMMAND", help="-- then the command to run"
    )
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class Target:
    """Where to PATCH: the ConfigMap's URL, and the pod's credentials."""

    url: str
    token: str | None
    context: ssl.SSLContext | None


def in_cluster_target(config_map: str, api_server: str | None, environ: dict[str, str]) -> Target | None:
    """The ConfigMap's URL with the pod's ServiceAccount token; None outside a pod."""
    namespace = environ.get("POD_NAMESPACE") or _read(SERVICE_ACCOUNT / "namespace")
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT", "443")
    server = api_server or (f"https://{host}:{port}" if host else None)
    if not server or not namespace:
        return None
    ca = SERVICE_ACCOUNT / "ca.crt"
    context = (
        ssl.create_default_context(cafile=str(ca)) if server.startswith("https") and ca.is_file() else None
    )
    url = f"{server.rstrip('/')}/api/v1/namespaces/{namespace}/configmaps/{config_map}"
    return Target(url, _read(SERVICE_ACCOUNT / "token"), context)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def publish(target: Target, record: str) -> None:
    body = json.dumps({"data": {PROGRESS_KEY: record}}).encode()
    headers = {"Content-Type": "application/merge-patch+json"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    request = urllib.request.Request(target.url, data=body, method="PATCH", headers=headers)
    with urllib.request.urlopen(request, timeout=10, context=target.context) as response:
        response.read()


class Watcher:
    """Publishes the record whenever its content changes; a failed publish is retried next time."""

    def __init__(self, file: Path, send: Callable[[str], None] | None) -> None:
        self.file = file
        self.send = send
        self.published: str | None = None
        self.last: str | None = None

    def check(self) -> None:
        text = _read(self.file)
        if not text:
            return
        self.last = text
        if self.send is None or text == self.published:
            return
        try:
            self.send(text)
            self.published = text
        except OSError as err:  # the API server may be briefly away; training goes on
            print(f"kubefactory report-progress: could not publish progress: {err}", file=sys.stderr)


def is_rank_zero(environ: dict[str, str]) -> bool:
    return environ.get("NODE_RANK", environ.get("JOB_COMPLETION_INDEX", "0")) == "0"


def supervise(command: Sequence[str], watcher: Watcher, interval: float) -> int:
    """Run ``command``, checking the record every ``interval`` seconds; forward SIGTERM to it."""
    child = subprocess.Popen(list(command))

    def forward(signum: int, _: Any) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            watcher.check()
            try:
                child.wait(timeout=interval)
                break
            except subprocess.TimeoutExpired:
                continue
        watcher.check()  # the last record, written just before the trainer exited
        return child.returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    command = args.wrapped[1:] if args.wrapped[:1] == ["--"] else list(args.wrapped)
    if not command:
        print("kubefactory report-progress: give the command to run after --", file=sys.stderr)
        return 2
    environ = dict(os.environ)
    config_map = args.config_map or environ.get(PROGRESS_CONFIGMAP_ENV)
    target = (
        in_cluster_target(config_map, args.api_server, environ)
        if config_map and is_rank_zero(environ)
        else None
    )
    watcher = Watcher(Path(args.file), (lambda text: publish(target, text)) if target else None)
    code = supervise(command, watcher, args.interval)
    if watcher.last and args.termination_log:
        with contextlib.suppress(OSError):  # not in a pod: there is no termination log
            Path(args.termination_log).write_text(watcher.last[:TERMINATION_LIMIT])
    return code
