"""Chaos: the operator SIGKILLed ten times at random points of a run, the API server restarted once.

A scaled-down run by default (``KUBEFACTORY_CHAOS_JOBS`` FineTuneJobs, 24 here; ``make bench``
runs 200). While the operator is down, the cluster moves on: trainers publish progress, a fifth
of the first attempts fail (each such job must restart once). Afterwards every job Succeeded
with exactly one set of children, and no observed status went backwards: attempts and progress
never decreased, a status never disappeared, Succeeded stayed Succeeded.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_operator_support import (
    OUTCOME,
    OperatorProcess,
    Volumes,
    Waiter,
    annotate,
    children,
    finetunejob_manifest,
    get_json,
    publish_progress,
    ready_dataset,
)

from hack.controlplane import cluster as controlplane  # registered by this folder's conftest

JOBS = int(os.environ.get("KUBEFACTORY_CHAOS_JOBS", "24"))
KILLS = 10
EXIT_CODE = "kubefactory.io/kwok-exit-code"
RESOURCES = {"accelerator": "cpu", "cpu": "100m", "memory": "256Mi"}


class StatusRecorder(threading.Thread):
    """Every FineTuneJob's status, as often as it can be read (reads fail while the API server is away)."""

    def __init__(self, cluster: Any, namespace: str) -> None:
        super().__init__(daemon=True)
        self.cluster, self.namespace = cluster, namespace
        self.seen: dict[str, list[dict[str, Any]]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            found = self.cluster.kubectl(
                "get", "finetunejobs", "-n", self.namespace, "-o", "json", check=False
            )
            if found.returncode == 0:
                for item in json.loads(found.stdout)["items"]:
                    history = self.seen.setdefault(item["metadata"]["name"], [])
                    status = item.get("status") or {}
                    if not history or history[-1] != status:
                        history.append(status)
            self.stop.wait(0.5)


def backwards(history: list[dict[str, Any]]) -> list[str]:
    """What went backwards in one job's observed statuses."""
    problems = []
    for before, after in itertools.pairwise(history):
        if before and not after:
            problems.append("the status disappeared")
        if int(after.get("attempts") or 0) < int(before.get("attempts") or 0):
            problems.append(f"attempts {before.get('attempts')} → {after.get('attempts')}")
        step_before = (before.get("progress") or {}).get("step") or 0
        step_after = (after.get("progress") or {}).get("step") or 0
        if step_after < step_before:
            problems.append(f"progress {step_before} → {step_after}")
        if before.get("phase") == "Succeeded" and after.get("phase") != "Succeeded":
            problems.append(f"Succeeded → {after.get('phase')}")
    return problems


def running_trainers(cluster: Any, namespace: str) -> list[dict[str, Any]]:
    found = cluster.kubectl(
        "get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=trainer", "-o", "json", check=False
    )
    if found.returncode != 0:
        return []
    pods: list[dict[str, Any]] = json.loads(found.stdout)["items"]
    return [
        pod
        for pod in pods
        if (pod.get("status") or {}).get("phase") == "Running"
        and not pod["metadata"].get("deletionTimestamp")
        and OUTCOME not in (pod["metadata"].get("annotations") or {})
    ]


@pytest.mark.timeout(1800)
def test_killed_ten_times_and_an_api_server_restart_lose_nothing(
    control_plane: Any,
    wait: Waiter,
    volumes: Volumes,
    namespace: str,
    tmp_path: Path,
    kf_operator: OperatorProcess,
) -> None:
    rng = random.Random(20260101)
    ready_dataset(control_plane, wait, volumes, tmp_path)
    names = [f"chaos-{index:03d}" for index in range(JOBS)]
    failing = set(names[::5])  # their first attempt fails: each restarts once
    for name in names:
        volumes.provide(namespace, f"{name}-output")
    manifests = [finetunejob_manifest(name, namespace, resources=RESOURCES) for name in names]
    control_plane.kubectl(
        "create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests})
    )
    recorder = StatusRecorder(control_plane, namespace)
    recorder.start()
    published: dict[str, int] = {}
    failed: set[str] = set()
    restart_seconds = 0.0

    def move_on() -> None:
        """What the trainers do meanwhile: progress from a few, the planned failures."""
        for name in rng.sample(names, k=min(5, len(names))):
            step = published.get(name, 0) + rng.randint(1, 20)
            record = {"step": step, "totalSteps": 1000, "loss": 1.0, "updatedAt": "2026-01-01T00:00:00Z"}
            if (
                control_plane.kubectl(
                    "get", "configmap", f"{name}-progress", "-n", namespace, check=False
                ).returncode
                == 0
            ):
                publish_progress(control_plane, namespace, name, record)
                published[name] = step
        for pod in running_trainers(control_plane, namespace):
            owner = pod["metadata"]["labels"].get("kubefactory.io/finetunejob")
            if owner in failing and owner not in failed:
                annotate(control_plane, namespace, pod["metadata"]["name"], {OUTCOME: "fail", EXIT_CODE: "1"})
                failed.add(owner)

    try:
        for kill in range(KILLS):
            time.sleep(rng.uniform(0.5, 3.0))  # a random point of whatever the operator is doing
            kf_operator.kill()
            if kill == KILLS // 2:
                restart_seconds = controlplane.restart_apiserver(control_plane)
            move_on()
            kf_operator.start()

        def finished() -> bool | None:
            for pod in running_trainers(control_plane, namespace):
                owner = pod["metadata"]["labels"].get("kubefactory.io/finetunejob")
                if owner in failing and owner not in failed:
                    annotate(
                        control_plane, namespace, pod["metadata"]["name"], {OUTCOME: "fail", EXIT_CODE: "1"}
                    )
                    failed.add(owner)
                else:
                    annotate(control_plane, namespace, pod["metadata"]["name"], {OUTCOME: "succeed"})
            jobs = get_json(control_plane, "finetunejobs", "-n", namespace)["items"]
            phases = [(job.get("status") or {}).get("phase") for job in jobs]
            return (len(jobs) == JOBS and all(phase == "Succeeded" for phase in phases)) or None

        wait.until(f"all {JOBS} FineTuneJobs Succeeded", finished, timeout=120 + 6 * JOBS)
    finally:
        recorder.stop.set()
        recorder.join(10)

    assert restart_seconds > 0
    final = {
        job["metadata"]["name"]: job["status"]
        for job in get_json(control_plane, "finetunejobs", "-n", namespace)["items"]
    }
    for name in names:
        status = final[name]
        assert status["attempts"] == (2 if name in failing else 1), (name, status)
        if name in published:
            assert status["progress"]["step"] == published[name], (name, status.get("progress"))
        found = children(control_plane, namespace, name)
        assert found == {
            "ConfigMap": [f"{name}-config", f"{name}-progress"],
            "Job": [f"{name}-a{status['attempts']}"],
            "PersistentVolumeClaim": [f"{name}-output"],
            "Role": [f"{name}-trainer"],
            "RoleBinding": [f"{name}-trainer"],
            "Service": [f"{name}-workers"],
            "ServiceAccount": [f"{name}-trainer"],
        }, name
        assert not backwards(recorder.seen.get(name, [])), (name, backwards(recorder.seen[name]))
    assert kf_operator.starts >= KILLS + 1


def test_the_history_check_sees_what_goes_backwards() -> None:
    assert backwards([{"attempts": 2}, {"attempts": 1}]) == ["attempts 2 → 1"]
    assert backwards([{"phase": "Succeeded"}, {"phase": "Running"}]) == ["Succeeded → Running"]
    assert backwards([{"progress": {"step": 5}}, {"progress": {"step": 3}}]) == ["progress 5 → 3"]
    assert backwards([{"phase": "Running"}, {}]) == ["the status disappeared"]
    assert backwards([{}, {"phase": "Pending", "attempts": 1}, {"phase": "Running", "attempts": 1}]) == []
