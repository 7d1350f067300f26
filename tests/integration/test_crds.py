"""The CRDs on a real kube-apiserver: they establish, the examples apply, kubectl shows and explains
them, and the server rejects invalid objects with the messages users will read."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "crds"
EXAMPLES = [REPO / "examples" / "manifests" / vendor for vendor in ("nvidia", "amd", "ascend", "cpu")]
QUICKSTART = REPO / "examples" / "quickstart"
CASES = yaml.safe_load((REPO / "tests" / "unit" / "operator" / "api" / "invalid_manifests.yaml").read_text())
CRD_NAMES = ("datasets.kubefactory.io", "finetunejobs.kubefactory.io", "modelservers.kubefactory.io")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as in tests/unit/operator/api/test_kinds.py."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def quickstart(kind: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((QUICKSTART / f"{kind}.yaml").read_text())
    return manifest


@pytest.fixture(scope="module")
def crds(control_plane: Any) -> Any:
    """The committed CRDs, applied the way the docs say, and Established."""
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    control_plane.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{name}" for name in CRD_NAMES)
    )
    return control_plane


def apply(cluster: Any, namespace: str, manifest: dict[str, Any]) -> Any:
    return cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest), check=False)


def test_crds_establish_with_their_names(crds: Any) -> None:
    for name in CRD_NAMES:
        crd = json.loads(crds.kubectl("get", "crd", name, "-o", "json").stdout)
        established = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert established["Established"] == "True" and established["NamesAccepted"] == "True"
        assert crd["status"]["acceptedNames"]["categories"] == ["kubefactory"]


def test_short_names_collide_with_no_other_resource(crds: Any) -> None:
    owners: dict[str, list[str]] = {}
    for group_version in ["v1", *api_group_versions(crds)]:
        prefix = "/api" if group_version == "v1" else "/apis"
        resources = json.loads(crds.kubectl("get", "--raw", f"{prefix}/{group_version}").stdout)["resources"]
        for resource in resources:
            for short in resource.get("shortNames", []):
                owners.setdefault(short, []).append(f"{resource['name']}.{group_version}")
    for short in ("kfds", "ftjob", "ftjobs", "msrv"):
        assert len(owners[short]) == 1 and "kubefactory.io" in owners[short][0], owners[short]


def api_group_versions(cluster: Any) -> list[str]:
    groups = json.loads(cluster.kubectl("get", "--raw", "/apis").stdout)["groups"]
    return [group["preferredVersion"]["groupVersion"] for group in groups]


@pytest.mark.parametrize("folder", [*EXAMPLES, QUICKSTART], ids=lambda folder: folder.name)
def test_examples_apply(crds: Any, namespace: str, folder: Path) -> None:
    applied = crds.kubectl("apply", "-n", namespace, "-f", str(folder)).stdout
    expected = sum(1 for path in folder.glob("*.yaml") for _ in yaml.safe_load_all(path.read_text()))
    assert applied.count("created") == expected, applied


def test_get_kubefactory_lists_all_three_kinds_with_their_columns(crds: Any, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(QUICKSTART))
    crds.kubectl(
        "patch", "-n", namespace, "finetunejob", "identity-lora", "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"phase": "Running", "progress": {"step": 12, "totalSteps": 72, "summary": "12/72 (17%)"}}}),
    )  # fmt: skip
    listing = crds.kubectl("get", "kubefactory", "-n", namespace).stdout
    lines = [" ".join(line.split()) for line in listing.splitlines()]
    assert "NAME SAMPLES FORMAT PHASE AGE" in lines
    assert "NAME PHASE PROGRESS MODEL NODES ACCEL/NODE AGE" in lines
    assert "NAME ENGINE READY REPLICAS URL PHASE AGE" in lines
    assert any(line.startswith("dataset.kubefactory.io/identity alpaca") for line in lines)
    assert any(
        line.startswith(
            "finetunejob.kubefactory.io/identity-lora Running 12/72 (17%) hf://Qwen/Qwen2.5-0.5B-Instruct 1 1"
        )
        for line in lines
    ), listing
    assert any(line.startswith("modelserver.kubefactory.io/identity huggingface 1") for line in lines)
    assert (
        crds.kubectl("get", "ftjob,kfds,msrv", "-n", namespace, "-o", "name").stdout.count("kubefactory.io/")
        == 3
    )


def test_explain_documents_training_keys(crds: Any) -> None:
    explained = wait_for_explain(crds, "finetunejob.spec.training.lora_rank")
    assert "lora_rank" in explained and "<integer>" in explained
    assert "Rank of the LoRA matrices. Default: 8." in explained
    spec = crds.kubectl("explain", "finetunejob.spec").stdout
    assert "  training\t<Object> -required-\n    The training config, with LLaMA-Factory's" in spec


def wait_for_explain(cluster: Any, field: str, timeout: float = 30.0) -> str:
    """The OpenAPI document catches up with a new CRD a moment after it is Established."""
    deadline = time.monotonic() + timeout
    while True:
        result = cluster.kubectl("explain", field, check=False)
        if result.returncode == 0 or time.monotonic() > deadline:
            assert result.returncode == 0, result.stderr
            return str(result.stdout)
        time.sleep(0.5)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_server_judges_invalid_objects_as_the_models_do(
    crds: Any, namespace: str, case: dict[str, Any]
) -> None:
    manifest = merge_patch(quickstart(case["base"]), case["patch"])
    result = apply(crds, namespace, manifest)
    if case["server"] is None:  # only the operator can judge this one; the server accepts it
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode != 0, f"accepted: {result.stdout}"
    assert case["path"] in result.stderr and case["server"] in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"training": {"lora_rank": 16}}, "training"),
        ({"resources": {"nodes": 2}}, "resources"),
        ({"model": "hf://Qwen/Qwen2.5-1.5B-Instruct"}, "model"),
        ({"datasets": [{"name": "other"}]}, "datasets"),
        ({"distributed": {"strategy": "ddp"}}, "distributed"),
        ({"evalDatasets": [{"name": "identity"}]}, "evalDatasets"),
    ],
)
def test_fields_of_a_job_are_immutable(crds: Any, namespace: str, patch: dict[str, Any], field: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(QUICKSTART / "finetunejob.yaml"))
    result = crds.kubectl(
        "patch",
        "-n",
        namespace,
        "finetunejob",
        "identity-lora",
        "--type=merge",
        "-p",
        json.dumps({"spec": patch}),
        check=False,
    )
    assert result.returncode != 0
    assert f"spec.{field}: Invalid value" in result.stderr
    assert f"{field} is immutable: create a new FineTuneJob to change it" in result.stderr


def test_suspend_and_scheduling_stay_mutable(crds: Any, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(QUICKSTART / "finetunejob.yaml"))
    patch = {"spec": {"suspend": True, "scheduling": {"queueName": "team-b", "nodeSelector": {"pool": "a"}}}}
    crds.kubectl(
        "patch", "-n", namespace, "finetunejob", "identity-lora", "--type=merge", "-p", json.dumps(patch)
    )
    job = json.loads(
        crds.kubectl("get", "-n", namespace, "finetunejob", "identity-lora", "-o", "json").stdout
    )
    assert job["spec"]["suspend"] is True and job["spec"]["scheduling"]["queueName"] == "team-b"


def test_server_fills_in_defaults(crds: Any, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(QUICKSTART / "finetunejob.yaml"))
    spec = json.loads(
        crds.kubectl("get", "-n", namespace, "finetunejob", "identity-lora", "-o", "json").stdout
    )["spec"]
    assert spec["distributed"] == {"strategy": "auto", "masterPort": 29500}
    assert spec["failurePolicy"] == {"maxRestarts": 3}
    assert spec["suspend"] is False
    assert (
        spec["training"] == quickstart("finetunejob")["spec"]["training"]
    )  # nothing added to the training block


def test_modelserver_scale_subresource(crds: Any, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(QUICKSTART / "modelserver.yaml"))
    status = {
        "status": {"replicas": 1, "readyReplicas": 1, "selector": "app.kubernetes.io/instance=identity"}
    }
    crds.kubectl(
        "patch",
        "-n",
        namespace,
        "modelserver",
        "identity",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    crds.kubectl("scale", "-n", namespace, "modelserver", "identity", "--replicas=3")
    path = f"/apis/kubefactory.io/v1alpha1/namespaces/{namespace}/modelservers/identity/scale"
    scale = json.loads(crds.kubectl("get", "--raw", path).stdout)
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 1, "selector": "app.kubernetes.io/instance=identity"}
