"""FineTuneJobs on the local control plane: multi-node wiring per vendor, progress, success, restarts
from the checkpoint, sticky failure, suspend, Kueue, and a spec no node can run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_operator_support import (
    ACCELERATOR_LABEL,
    OUTCOME,
    RESYNC_SECONDS,
    OperatorProcess,
    Volumes,
    Waiter,
    annotate,
    children,
    condition,
    create,
    events,
    finetunejob_manifest,
    get_json,
    items,
    publish_progress,
    ready_dataset,
    resolved_env,
    status,
)

PROGRESS = {
    "step": 20,
    "totalSteps": 100,
    "epoch": 0.6,
    "loss": 1.25,
    "learningRate": 0.0001,
    "tokensPerSecond": 1234.5,
    "etaSeconds": 300,
    "latestCheckpoint": "checkpoint-20",
    "updatedAt": "2026-01-01T00:00:00Z",
}
RESOURCES = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "ascend": "huawei.com/Ascend910"}


def start_job(
    cluster: Any, wait: Waiter, volumes: Volumes, tmp_path: Path, name: str, **spec: Any
) -> list[dict[str, Any]]:
    """A Ready Dataset, then a FineTuneJob; its pods once they all run."""
    ready_dataset(cluster, wait, volumes, tmp_path)
    volumes.provide(wait.namespace, f"{name}-output")
    spec.setdefault("resources", {"accelerator": "nvidia", "acceleratorsPerNode": 1, "nodes": 2})
    create(cluster, finetunejob_manifest(name, wait.namespace, **spec))
    nodes = spec["resources"].get("nodes", 1)
    return wait.pods(f"kubefactory.io/finetunejob={name},kubefactory.io/attempt=1", nodes)


def finish(
    cluster: Any, namespace: str, pods: list[dict[str, Any]], outcome: str, **annotations: str
) -> None:
    for pod in pods:
        annotate(cluster, namespace, pod["metadata"]["name"], {OUTCOME: outcome, **annotations})


def rendered_config(cluster: Any, namespace: str, name: str) -> dict[str, Any]:
    data = get_json(cluster, "configmap", f"{name}-config", "-n", namespace)["data"]
    loaded: dict[str, Any] = yaml.safe_load(data["config.yaml"])
    return loaded


@pytest.mark.parametrize("vendor", ["nvidia", "amd", "ascend"])
def test_two_nodes_of_eight_accelerators(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path, vendor: str
) -> None:
    resources = {"accelerator": vendor, "acceleratorsPerNode": 8, "nodes": 2}
    pods = start_job(control_plane, wait, volumes, tmp_path, "sft", resources=resources)

    assert children(control_plane, namespace, "sft") == {
        "ConfigMap": ["sft-config", "sft-progress"],
        "Job": ["sft-a1"],
        "PersistentVolumeClaim": ["sft-output"],
        "Role": ["sft-trainer"],
        "RoleBinding": ["sft-trainer"],
        "Service": ["sft-workers"],
        "ServiceAccount": ["sft-trainer"],
    }
    job = get_json(control_plane, "job", "sft-a1", "-n", namespace)["spec"]
    assert (job["completionMode"], job["completions"], job["parallelism"]) == ("Indexed", 2, 2)
    service = get_json(control_plane, "service", "sft-workers", "-n", namespace)["spec"]
    assert service["clusterIP"] == "None"

    by_rank = {resolved_env(pod)["NODE_RANK"]: pod for pod in pods}
    assert sorted(by_rank) == ["0", "1"]
    nodes = {pod["spec"]["nodeName"] for pod in pods}
    assert len(nodes) == 2, f"both pods on one node: {nodes}"
    for node in nodes:
        labels = get_json(control_plane, "node", node)["metadata"]["labels"]
        assert labels[ACCELERATOR_LABEL] == vendor, f"a {vendor} pod was scheduled onto {node}"
    master = f"sft-a1-0.sft-workers.{namespace}.svc"
    assert (
        by_rank["0"]["spec"]["hostname"] == "sft-a1-0" and by_rank["0"]["spec"]["subdomain"] == "sft-workers"
    )
    for rank, pod in by_rank.items():
        env = resolved_env(pod)
        expected = {
            "NNODES": "2",
            "NODE_RANK": rank,
            "MASTER_ADDR": master,
            "MASTER_PORT": "29500",
            "NPROC_PER_NODE": "8",
        }
        assert {key: env[key] for key in expected} == expected
        assert {key: env[f"PET_{key}"] for key in expected} == expected
        assert env["WORLD_SIZE"] == "16"
        limits = pod["spec"]["containers"][0]["resources"]["limits"]
        assert limits[RESOURCES[vendor]] == "8"

    finish(control_plane, namespace, pods, "succeed")  # frees the nodes for the next test
    wait.phase("finetunejob", "sft", "Succeeded")


def test_progress_then_success(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    pods = start_job(control_plane, wait, volumes, tmp_path, "sft")
    wait.phase("finetunejob", "sft", "Running")
    publish_progress(control_plane, namespace, "sft", PROGRESS)

    found = wait.until(
        "progress in the status",
        lambda: status(control_plane, namespace, "finetunejob", "sft").get("progress"),
    )
    assert found == {
        "step": 20,
        "totalSteps": 100,
        "epoch": 0.6,
        "loss": 1.25,
        "learningRate": 0.0001,
        "tokensPerSecond": 1234.5,
        "etaSeconds": 300,
        "updateTime": "2026-01-01T00:00:00Z",
        "summary": "20/100 (20%)",
    }
    table = control_plane.kubectl("get", "finetunejob", "sft", "-n", namespace, "-o", "wide").stdout
    row = table.splitlines()[1].split()
    assert row[:4] == ["sft", "Running", "20/100", "(20%)"] and "1.25" in row, (
        table
    )  # Loss shows with -o wide

    finish(control_plane, namespace, pods, "succeed")
    done = wait.phase("finetunejob", "sft", "Succeeded")
    assert done["outputLocation"] == "pvc://sft-output/sft"
    assert done["completionTime"] and done["latestCheckpoint"] == "pvc://sft-output/sft/checkpoint-20"
    assert condition(done, "Succeeded")["status"] == "True"
    assert "Succeeded" in [reason for reason, _ in events(control_plane, namespace, "sft")]


def test_a_failed_pod_restarts_the_group_from_the_checkpoint_until_restarts_run_out(
    control_plane: Any,
    wait: Waiter,
    volumes: Volumes,
    namespace: str,
    tmp_path: Path,
    kf_operator: OperatorProcess,
) -> None:
    pods = start_job(control_plane, wait, volumes, tmp_path, "sft", failurePolicy={"maxRestarts": 1})
    publish_progress(control_plane, namespace, "sft", PROGRESS)
    wait.until(
        "the checkpoint to be recorded",
        lambda: status(control_plane, namespace, "finetunejob", "sft").get("latestCheckpoint"),
    )
    rank_one = next(pod for pod in pods if resolved_env(pod)["NODE_RANK"] == "1")
    finish(
        control_plane,
        namespace,
        [rank_one],
        "fail",
        **{"kubefactory.io/kwok-termination-message": "NCCL timeout"},
    )

    second = wait.pods("kubefactory.io/finetunejob=sft,kubefactory.io/attempt=2", 2)
    assert children(control_plane, namespace, "sft")["Job"] == ["sft-a2"]  # the whole group moved on
    restarting = [
        message for reason, message in events(control_plane, namespace, "sft") if reason == "Restarting"
    ]
    assert restarting and "exited with code 1 (Error): NCCL timeout" in restarting[0]
    assert (
        rendered_config(control_plane, namespace, "sft")["resume_from_checkpoint"]
        == "/kubefactory/output/checkpoint-20"
    )
    running = wait.phase("finetunejob", "sft", "Running")
    assert running["attempts"] == 2
    assert condition(running, "Failed")["reason"] == "AttemptFailed"

    finish(
        control_plane,
        namespace,
        second[:1],
        "fail",
        **{"kubefactory.io/kwok-exit-code": "137", "kubefactory.io/kwok-reason": "OOMKilled"},
    )
    failed = wait.phase("finetunejob", "sft", "Failed")
    assert condition(failed, "Failed")["reason"] == "RestartsExhausted"
    assert (
        "exited with code 137 (OOMKilled); failurePolicy.maxRestarts (1) restarts already used"
        in condition(failed, "Failed")["message"]
    )
    assert failed["completionTime"]

    kf_operator.restart()  # Failed is terminal: a fresh operator neither restarts nor rewrites it
    time.sleep(RESYNC_SECONDS * 3)
    assert status(control_plane, namespace, "finetunejob", "sft") == failed
    assert children(control_plane, namespace, "sft")["Job"] == ["sft-a2"]


def completed_result(config: dict[str, Any], output: Path, step: int) -> dict[str, bytes]:
    """output_dir as a run of `config` leaves it once complete: result files, the last checkpoint and
    the completion record, written with the runtime's own functions. Returns the files' bytes."""
    from kubefactory.runtime.config import validate_config
    from kubefactory.runtime.train import completion

    (output / f"checkpoint-{step}").mkdir(parents=True)
    (output / "adapter_model.safetensors").write_bytes(bytes(range(256)) * 64)
    (output / "adapter_config.json").write_text('{"r": 8}')
    values = completion.fingerprint_values(validate_config({**config, "output_dir": str(output)}))
    artifacts = {path.name: completion.digest(path) for path in completion.result_files(output)}
    record = completion.CompletionRecord(
        step=step, fingerprint=completion.fingerprint(values), config=values, artifacts=artifacts
    )
    completion.write_record(output, record)
    return files_of(output)


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def run_trainer(config: dict[str, Any], output: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    """What a trainer pod runs (`kubefactory train` on the rendered config), run here with output_dir
    pointing at the folder that stands for the output volume."""
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump({**config, "output_dir": str(output)}))
    command = [sys.executable, "-m", "kubefactory.runtime.cli", "train", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_a_finished_attempt_whose_pod_restarts_succeeds_with_the_first_result(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    pods = start_job(control_plane, wait, volumes, tmp_path, "sft", failurePolicy={"maxRestarts": 2})
    # attempt 1 trains to its end: the result and its completion record are on the output volume...
    output = tmp_path / "output"
    first = completed_result(rendered_config(control_plane, namespace, "sft"), output, step=100)
    last = {**PROGRESS, "step": 100, "epoch": 3.0, "etaSeconds": 0, "latestCheckpoint": "checkpoint-100"}
    publish_progress(control_plane, namespace, "sft", last)
    wait.until(
        "the last checkpoint to be recorded",
        lambda: (
            str(status(control_plane, namespace, "finetunejob", "sft").get("latestCheckpoint")).endswith(
                "checkpoint-100"
            )
            or None
        ),
    )
    # ...then node rank 0's pod dies on its way out (an OOM in an upload, a node drained): a restart
    rank_zero = next(pod for pod in pods if resolved_env(pod)["NODE_RANK"] == "0")
    finish(
        control_plane,
        namespace,
        [rank_zero],
        "fail",
        **{"kubefactory.io/kwok-exit-code": "137", "kubefactory.io/kwok-reason": "OOMKilled"},
    )
    second = wait.pods("kubefactory.io/finetunejob=sft,kubefactory.io/attempt=2", 2)
    config = rendered_config(control_plane, namespace, "sft")
    assert config["resume_from_checkpoint"] == "/kubefactory/output/checkpoint-100"

    # attempt 2's trainer, over the same output: the run is complete, nothing is trained or written
    trainer = run_trainer(config, output, tmp_path)
    assert trainer.returncode == 0, trainer.stderr[-2000:]
    assert (
        trainer.stdout.strip() == f"run already complete at step 100; result in {output} (nothing to train)"
    )
    assert files_of(output) == first
    finish(control_plane, namespace, second, "succeed" if trainer.returncode == 0 else "fail")

    done = wait.phase("finetunejob", "sft", "Succeeded")
    assert done["attempts"] == 2
    assert done["outputLocation"] == "pvc://sft-output/sft"
    assert done["latestCheckpoint"] == "pvc://sft-output/sft/checkpoint-100"
    assert done["progress"]["step"] == 100 and done["progress"]["summary"] == "100/100 (100%)"
    assert condition(done, "Succeeded")["status"] == "True"


def test_a_non_retryable_exit_code_fails_at_once(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    pods = start_job(
        control_plane, wait, volumes, tmp_path, "sft", failurePolicy={"retryableExitCodes": [1, 137]}
    )
    finish(control_plane, namespace, pods[:1], "fail", **{"kubefactory.io/kwok-exit-code": "2"})
    failed = wait.phase("finetunejob", "sft", "Failed")
    assert condition(failed, "Failed")["reason"] == "NonRetryableExitCode"
    assert failed["attempts"] == 1


def test_suspend_and_resume(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    start_job(control_plane, wait, volumes, tmp_path, "sft")
    publish_progress(control_plane, namespace, "sft", PROGRESS)
    patch = json.dumps({"spec": {"suspend": True}})
    control_plane.kubectl("patch", "finetunejob", "sft", "-n", namespace, "--type=merge", "-p", patch)
    suspended = wait.phase("finetunejob", "sft", "Suspended")
    assert condition(suspended, "Suspended")["reason"] == "SuspendedBySpec"
    # the operator records the decision in status first, then suspends the Job
    wait.until(
        "the Job to be suspended",
        lambda: get_json(control_plane, "job", "sft-a1", "-n", namespace)["spec"].get("suspend") or None,
    )
    wait.until(
        "the pods to go",
        lambda: not items(control_plane, "pods", namespace, "kubefactory.io/finetunejob=sft") or None,
    )

    control_plane.kubectl(
        "patch",
        "finetunejob",
        "sft",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"suspend": False}}),
    )
    wait.pods("kubefactory.io/finetunejob=sft,kubefactory.io/attempt=1", 2)
    resumed = wait.phase("finetunejob", "sft", "Running")
    assert resumed["attempts"] == 1  # the same attempt carries on, from its checkpoint
    assert (
        rendered_config(control_plane, namespace, "sft")["resume_from_checkpoint"]
        == "/kubefactory/output/checkpoint-20"
    )


def test_a_kueue_job_is_created_suspended_and_left_to_kueue(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    ready_dataset(control_plane, wait, volumes, tmp_path)
    volumes.provide(namespace, "sft-output")
    create(
        control_plane,
        finetunejob_manifest(
            "sft", namespace, scheduling={"queueName": "gpu-team-a"}, resources={"nodes": 2}
        ),
    )
    job = wait.until(
        "the Job", lambda: items(control_plane, "jobs", namespace, "kubefactory.io/finetunejob=sft")
    )[0]
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-team-a"
    pending = wait.until(
        "the queued condition",
        lambda: (
            s
            if condition(s := status(control_plane, namespace, "finetunejob", "sft"), "Suspended").get(
                "reason"
            )
            == "WaitingForAdmission"
            else None
        ),
    )
    assert pending["phase"] == "Pending"
    assert not items(control_plane, "pods", namespace, "kubefactory.io/finetunejob=sft")

    # Kueue admits the workload by un-suspending the Job; the operator must not suspend it again
    control_plane.kubectl(
        "patch", "job", "sft-a1", "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":false}}'
    )
    wait.pods("kubefactory.io/finetunejob=sft", 2)
    wait.phase("finetunejob", "sft", "Running")
    time.sleep(RESYNC_SECONDS * 2)
    assert get_json(control_plane, "job", "sft-a1", "-n", namespace)["spec"]["suspend"] is False


def test_a_spec_no_node_can_run_says_so(
    control_plane: Any, wait: Waiter, volumes: Volumes, namespace: str, tmp_path: Path
) -> None:
    ready_dataset(control_plane, wait, volumes, tmp_path)
    volumes.provide(namespace, "sft-output")
    resources = {"accelerator": "ascend", "acceleratorsPerNode": 16, "nodes": 2}  # the nodes have 8
    create(control_plane, finetunejob_manifest("sft", namespace, resources=resources))
    found = wait.until(
        "an Unschedulable condition",
        lambda: (
            s
            if condition(s := status(control_plane, namespace, "finetunejob", "sft"), "Running").get("reason")
            == "Unschedulable"
            else None
        ),
    )
    assert found["phase"] == "Pending"
    assert "Insufficient huawei.com/Ascend910" in condition(found, "Running")["message"]
