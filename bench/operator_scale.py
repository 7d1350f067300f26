"""The operator at scale: N FineTuneJobs applied at once on the local control plane (kwok).

    python -m bench.operator_scale [--jobs 1000] [--before REV] [--window 60] [--smoke]

Each run starts a fresh local control plane (``hack/controlplane``), one Dataset already Ready,
and the operator as a process (admin credentials, watching only the run's namespace, default
resync of 30 s, metrics on a local port). Then it creates ``--jobs`` FineTuneJobs from 16 threads
and measures:

- apply → children: from the create request of each FineTuneJob to its Job appearing in a watch
  (p50, p95, max);
- steady state: over ``--window`` seconds once every job has a status, the API server's own
  request counters (``apiserver_request_total``; LIST and GET/PATCH of the operator's kinds)
  against the operator's reconciles in the same window (``kubefactory_reconciles_total``);
- child change → status: ``--samples`` progress ConfigMaps patched one at a time, each until the
  FineTuneJob's ``status.progress.step`` shows the new value (p50, p95);
- the operator process's CPU seconds and peak RSS (``VmHWM``) over the whole run.

The jobs are created with ``suspend: true`` (every child but pods: the suspended Job), so that
the 2-core machine measures the operator and the API server rather than the scheduler and kwok
churning through 1,000 pods. ``--before REV`` runs the same scenario with the operator of a git
revision (extracted with ``git archive``) first, and prints both side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
KWOK_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
NAMESPACE = "bench"
GROUP, VERSION = "kubefactory.io", "v1alpha1"
TRAINING = {"stage": "sft", "do_train": True, "finetuning_type": "lora", "template": "qwen"}


def load_controlplane() -> types.ModuleType:
    if "hack" not in sys.modules:
        hack = types.ModuleType("hack")
        hack.__path__ = [str(REPO_ROOT / "hack")]
        sys.modules["hack"] = hack
    return importlib.import_module("hack.controlplane.cluster")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Result:
    label: str
    jobs: int
    created: int = 0
    apply_to_children: list[float] = field(default_factory=list)
    create_seconds: float = 0.0
    change_to_status: list[float] = field(default_factory=list)
    window: float = 0.0
    reconciles: float = 0.0
    requests: dict[str, float] = field(default_factory=dict)  # "VERB resource" → count in the window
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def per_reconcile(self, verb: str) -> float:
        total = sum(count for key, count in self.requests.items() if key.split()[0] == verb)
        return total / self.reconciles if self.reconciles else float("nan")


# --- measuring ------------------------------------------------------------------------------------


def apiserver_requests(cluster: Any) -> dict[str, float]:
    """``apiserver_request_total`` summed by verb and resource (watches left out)."""
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if labels.get("verb") in ("WATCH", "CONNECT"):
            continue
        resource = labels.get("resource", "") + (
            f"/{labels['subresource']}" if labels.get("subresource") else ""
        )
        key = f"{labels.get('verb')} {resource}"
        out[key] = out.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def operator_reconciles(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("kubefactory_reconciles_total{")
    )


def process_usage(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS in MB of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = Path(f"/proc/{pid}/status").read_text()
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]
    return cpu, peak


class Watcher(threading.Thread):
    """Records when each FineTuneJob's Job first appears, and each FineTuneJob's status as it changes."""

    def __init__(self, kubeconfig: Path) -> None:
        super().__init__(daemon=True)
        from kubernetes import client, config

        self.api = client.ApiClient(config.new_client_from_config(str(kubeconfig)).configuration)
        self.job_seen: dict[str, float] = {}
        self.status: dict[str, dict[str, Any]] = {}
        self.status_changed = threading.Condition()
        self.stop = threading.Event()

    def run(self) -> None:
        threading.Thread(target=self.watch_jobs, daemon=True).start()
        self.watch_finetunejobs()

    def watch_jobs(self) -> None:
        from kubernetes import client, watch

        batch = client.BatchV1Api(self.api)
        while not self.stop.is_set():
            with contextlib.suppress(Exception):
                for event in watch.Watch().stream(
                    batch.list_namespaced_job,
                    NAMESPACE,
                    label_selector="app.kubernetes.io/managed-by",
                    timeout_seconds=60,
                ):
                    owner = (event["object"].metadata.labels or {}).get("kubefactory.io/finetunejob")
                    if owner and owner not in self.job_seen:
                        self.job_seen[owner] = time.monotonic()

    def watch_finetunejobs(self) -> None:
        from kubernetes import client, watch

        custom = client.CustomObjectsApi(self.api)
        while not self.stop.is_set():
            with contextlib.suppress(Exception):
                for event in watch.Watch().stream(
                    custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    NAMESPACE,
                    "finetunejobs",
                    timeout_seconds=60,
                ):
                    body = event["object"]
                    with self.status_changed:
                        self.status[body["metadata"]["name"]] = body.get("status") or {}
                        self.status_changed.notify_all()

    def wait_for(self, name: str, check: Any, timeout: float) -> float | None:
        """Seconds until ``check(status)`` holds for ``name``; None on timeout."""
        started = time.monotonic()
        with self.status_changed:
            while not check(self.status.get(name) or {}):
                left = timeout - (time.monotonic() - started)
                if left <= 0:
                    return None
                self.status_changed.wait(left)
        return time.monotonic() - started


# --- one run --------------------------------------------------------------------------------------


@contextlib.contextmanager
def operator_tree(revision: str | None) -> Iterator[dict[str, str]]:
    """Environment for an operator of ``revision`` (None: this checkout, as installed)."""
    if revision is None:
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="kubefactory-before-") as folder:
        root = Path(folder)
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", revision, "operator", "runtime"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
        package = root / "path" / "kubefactory"
        package.mkdir(parents=True)
        (package / "operator").symlink_to(root / "operator")
        (package / "runtime").symlink_to(root / "runtime")
        yield {"PYTHONPATH": str(root / "path")}


def ready_dataset(cluster: Any) -> None:
    dataset = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Dataset",
        "metadata": {"name": "identity", "namespace": NAMESPACE},
        "spec": {
            "source": {"configMap": {"name": "identity-rows", "key": "data.json"}},
            "formatting": "alpaca",
        },
    }
    cluster.kubectl("create", "-f", "-", input=json.dumps(dataset))
    status = {
        "status": {
            "phase": "Ready",
            "observedGeneration": 1,
            "location": "pvc://identity-data/identity",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Prepared", "message": "bench",
                 "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}
            ],
        }
    }  # fmt: skip
    cluster.kubectl(
        "patch",
        "dataset",
        "identity",
        "-n",
        NAMESPACE,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )


def finetunejob(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "FineTuneJob",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "model": "hf://Qwen/Qwen2.5-0.5B",
            "datasets": [{"name": "identity"}],
            "training": dict(TRAINING),
            "resources": {"accelerator": "cpu", "cpu": "100m", "memory": "256Mi"},
            "suspend": True,
        },
    }


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_once(label: str, revision: str | None, jobs: int, window: float, samples: int) -> Result:
    controlplane = load_controlplane()
    result = Result(label, jobs)
    with tempfile.TemporaryDirectory(prefix="kubefactory-scale-") as folder:
        work = Path(folder)
        cluster = controlplane.up(work / "cluster", tied=True)
        try:
            controlplane.apply_crds(cluster, REPO_ROOT / "crds")
            cluster.kubectl("create", "namespace", NAMESPACE)
            ready_dataset(cluster)
            metrics_port = free_port()
            settings = {
                "defaultTolerations": [KWOK_TOLERATION],
                "namespaces": [NAMESPACE],
                "metricsPort": metrics_port,
                "healthPort": free_port(),
            }
            (work / "operator.yaml").write_text(yaml.safe_dump(settings))
            with operator_tree(revision) as env, (work / "operator.log").open("wb") as log:
                command = [sys.executable, "-m", "kubefactory.operator", "--config", str(work / "operator.yaml"),
                           "--kubeconfig", str(cluster.kubeconfig)]  # fmt: skip
                process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}
                )
                try:
                    measure(cluster, process, metrics_port, result, window, samples)
                finally:
                    process.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(30)
                    if process.poll() is None:
                        process.kill()
        finally:
            controlplane.down(work / "cluster")
    return result


def measure(
    cluster: Any, process: subprocess.Popen[bytes], port: int, result: Result, window: float, samples: int
) -> None:
    from kubernetes import client, config

    deadline = time.monotonic() + 60
    while True:  # the operator answers on its metrics port
        try:
            operator_reconciles(port)
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the operator did not start") from None
            time.sleep(0.2)
    watcher = Watcher(cluster.kubeconfig)
    watcher.start()
    time.sleep(2)  # the watches are established
    custom = client.CustomObjectsApi(config.new_client_from_config(str(cluster.kubeconfig)))
    names = [f"job-{index:04d}" for index in range(result.jobs)]
    sent: dict[str, float] = {}

    def create(name: str) -> None:
        sent[name] = time.monotonic()
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "finetunejobs", finetunejob(name))

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, names))
    result.create_seconds = time.monotonic() - started
    deadline = time.monotonic() + max(300.0, result.jobs * 0.6)
    while len(watcher.job_seen) < result.jobs and time.monotonic() < deadline:
        time.sleep(0.5)
    result.created = len(watcher.job_seen)
    result.apply_to_children = [watcher.job_seen[n] - sent[n] for n in names if n in watcher.job_seen]

    # settle: every job has a status, then a quiet moment
    for name in names:
        watcher.wait_for(
            name, lambda status: bool(status.get("phase")), timeout=max(1.0, deadline - time.monotonic())
        )
    time.sleep(10)
    before_requests, before_reconciles = apiserver_requests(cluster), operator_reconciles(port)
    time.sleep(window)
    after_requests, after_reconciles = apiserver_requests(cluster), operator_reconciles(port)
    result.window = window
    result.reconciles = after_reconciles - before_reconciles
    result.requests = {
        key: after_requests[key] - before_requests.get(key, 0.0)
        for key in after_requests
        if after_requests[key] - before_requests.get(key, 0.0) > 0
    }

    core = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    for step, name in enumerate(names[:: max(1, result.jobs // samples)][:samples], start=1):
        record = json.dumps({"step": step, "totalSteps": 1000, "updatedAt": "2026-01-01T00:00:00Z"})
        core.patch_namespaced_config_map(f"{name}-progress", NAMESPACE, {"data": {"progress.json": record}})
        took = watcher.wait_for(name, lambda s, want=step: (s.get("progress") or {}).get("step") == want, 60)
        if took is not None:
            result.change_to_status.append(took)
    result.cpu_seconds, result.peak_rss_mb = process_usage(process.pid)
    watcher.stop.set()


# --- the table ------------------------------------------------------------------------------------


def rows(result: Result) -> list[tuple[str, str]]:
    a2c, c2s = result.apply_to_children, result.change_to_status
    lists = sum(count for key, count in result.requests.items() if key.startswith("LIST "))
    return [
        ("FineTuneJobs created / with children", f"{result.jobs} / {result.created}"),
        ("creating them (16 threads)", f"{result.create_seconds:.1f} s"),
        ("apply → children p50 / p95 / max", f"{percentile(a2c, .5):.2f} / {percentile(a2c, .95):.2f} / {max(a2c, default=float('nan')):.2f} s"),
        ("child change → status p50 / p95", f"{percentile(c2s, .5):.2f} / {percentile(c2s, .95):.2f} s ({len(c2s)} samples)"),
        (f"steady state ({result.window:.0f} s): reconciles", f"{result.reconciles:.0f}"),
        ("  API requests per reconcile (GET / LIST / PATCH)", f"{result.per_reconcile('GET'):.2f} / {result.per_reconcile('LIST'):.2f} / {result.per_reconcile('PATCH'):.2f}"),
        ("  LIST requests in the window (all clients)", f"{lists:.0f}"),
        ("operator CPU seconds (whole run)", f"{result.cpu_seconds:.1f}"),
        ("operator peak RSS", f"{result.peak_rss_mb:.0f} MB"),
    ]  # fmt: skip


def table(results: list[Result]) -> str:
    header = "| | " + " | ".join(r.label for r in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    columns = [rows(r) for r in results]
    for index, (name, _) in enumerate(columns[0]):
        lines.append(f"| {name} | " + " | ".join(column[index][1] for column in columns) + " |")
    return "\n".join(lines)


def main(smoke: bool = False, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.operator_scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds of steady state measured")
    parser.add_argument("--samples", type=int, default=50, help="progress changes timed")
    parser.add_argument("--before", help="a git revision whose operator is measured first (the baseline)")
    parser.add_argument("--smoke", action="store_true", help="20 jobs, a 5 s window, 5 samples")
    parser.add_argument("--details", action="store_true", help="also print the steady state's requests")
    args = parser.parse_args(argv or [])
    if smoke or args.smoke:
        args.jobs, args.window, args.samples = 20, 5.0, 5
    results = []
    if args.before:
        results.append(run_once(f"before ({args.before})", args.before, args.jobs, args.window, args.samples))
    results.append(run_once("after (this checkout)", None, args.jobs, args.window, args.samples))
    print(table(results))
    if args.details:
        for result in results:
            print(f"\n{result.label}: requests in the steady window")
            for key, count in sorted(result.requests.items(), key=lambda item: -item[1]):
                print(f"  {key}: {count:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(argv=sys.argv[1:]))
