"""The operator's least privilege, and crashes: killed mid-reconcile, it leaves exactly one set of children."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kubefactory.operator.rbac import cluster_role
from test_operator_support import (
    OPERATOR_USER,
    OUTCOME,
    OperatorProcess,
    Volumes,
    Waiter,
    annotate,
    children,
    create,
    finetunejob_manifest,
    get_json,
    items,
    ready_dataset,
    status,
)

ONE_SET = {
    "ConfigMap": ["sft-config", "sft-progress"],
    "PersistentVolumeClaim": ["sft-output"],
    "Role": ["sft-trainer"],
    "RoleBinding": ["sft-trainer"],
    "Service": ["sft-workers"],
    "ServiceAccount": ["sft-trainer"],
}


def can(cluster: Any, verb: str, resource: str, namespace: str) -> bool:
    resource, _, subresource = resource.partition("/")
    extra = [f"--subresource={subresource}"] if subresource else []
    found = cluster.kubectl(
        "auth", "can-i", verb, resource, *extra, "-n", namespace, f"--as={OPERATOR_USER}", check=False
    )
    return found.stdout.strip() == "yes"


def test_the_operator_runs_with_exactly_its_rbac_rules(
    control_plane: Any, kf_operator: OperatorProcess, namespace: str
) -> None:
    bound = get_json(control_plane, "clusterrole", "kubefactory-operator")
    assert bound["rules"] == cluster_role()["rules"]
    bindings = get_json(control_plane, "clusterrolebindings")["items"]
    granted = [
        b["roleRef"]["name"]
        for b in bindings
        if any(s.get("name") == OPERATOR_USER for s in b.get("subjects") or [])
    ]
    assert granted == ["kubefactory-operator"], (
        f"{OPERATOR_USER} has more bindings than the operator's: {granted}"
    )
    assert can(control_plane, "patch", "finetunejobs.kubefactory.io/status", namespace)
    assert can(control_plane, "create", "jobs.batch", namespace)
    assert not can(control_plane, "patch", "finetunejobs.kubefactory.io", namespace)  # the spec is the user's
    assert not can(control_plane, "create", "pods", namespace)
    assert not can(control_plane, "get", "secrets", namespace)


def test_killed_mid_reconcile_it_leaves_exactly_one_set_of_children(
    control_plane: Any,
    wait: Waiter,
    volumes: Volumes,
    namespace: str,
    tmp_path: Path,
    kf_operator: OperatorProcess,
) -> None:
    ready_dataset(control_plane, wait, volumes, tmp_path)
    volumes.provide(namespace, "sft-output")
    create(control_plane, finetunejob_manifest("sft", namespace, resources={"nodes": 2}))
    # the first child is applied first: kill the operator while it is still creating the rest
    wait.until("the first child", lambda: children(control_plane, namespace, "sft") or None, timeout=60)
    kf_operator.kill()
    partial = children(control_plane, namespace, "sft")
    kf_operator.start()
    pods = wait.pods("kubefactory.io/finetunejob=sft", 2)
    assert children(control_plane, namespace, "sft") == {**ONE_SET, "Job": ["sft-a1"]}, (
        f"after a kill at {partial}"
    )

    # and again while a restart is under way: the failure recorded, the old Job maybe gone or not
    annotate(control_plane, namespace, pods[0]["metadata"]["name"], {OUTCOME: "fail"})
    wait.until(
        "the restart to be recorded",
        lambda: status(control_plane, namespace, "finetunejob", "sft").get("attempts") == 2,
    )
    kf_operator.kill()
    kf_operator.start()
    wait.pods("kubefactory.io/finetunejob=sft,kubefactory.io/attempt=2", 2)
    assert children(control_plane, namespace, "sft") == {**ONE_SET, "Job": ["sft-a2"]}
    assert len(items(control_plane, "pods", namespace, "kubefactory.io/finetunejob=sft")) == 2


def test_a_restarted_operator_picks_up_what_happened_while_it_was_away(
    control_plane: Any,
    wait: Waiter,
    volumes: Volumes,
    namespace: str,
    tmp_path: Path,
    kf_operator: OperatorProcess,
) -> None:
    ready_dataset(control_plane, wait, volumes, tmp_path)
    volumes.provide(namespace, "sft-output")
    create(control_plane, finetunejob_manifest("sft", namespace, resources={"nodes": 2}))
    pods = wait.pods("kubefactory.io/finetunejob=sft", 2)
    wait.phase("finetunejob", "sft", "Running")
    kf_operator.kill()
    for pod in pods:
        annotate(control_plane, namespace, pod["metadata"]["name"], {OUTCOME: "succeed"})
    wait.until(
        "the Job to complete with no operator running",
        lambda: any(
            c["type"] == "Complete"
            for c in get_json(control_plane, "job", "sft-a1", "-n", namespace)["status"].get("conditions", [])
        ),
    )
    time.sleep(1)
    assert status(control_plane, namespace, "finetunejob", "sft")["phase"] == "Running"  # nobody told it yet
    kf_operator.start()
    done = wait.phase("finetunejob", "sft", "Succeeded")
    assert done["outputLocation"] == "pvc://sft-output/sft"
    assert json.loads(json.dumps(children(control_plane, namespace, "sft")))["Job"] == ["sft-a1"]
