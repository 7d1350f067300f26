"""The Helm chart against the local control plane: lint, server-side dry-run, install and uninstall,
a whole FineTuneJob journey run with a token of the chart's own ServiceAccount, two replicas that
never act together, and the metrics moving while they work.

The chart's operator pod lands on a kwok node, which only pretends to run it; the operator the
tests watch is ``python -m kubefactory.operator`` on this host, configured with the chart's own
ConfigMap and authenticated with a TokenRequest token of the chart's ServiceAccount, so it has
exactly the rights the chart grants: a rule missing from ``operator/rbac.py`` fails a journey.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubefactory.operator.settings import load_settings
from prometheus_client.parser import text_string_to_metric_families
from test_operator_support import (
    ACCELERATOR_LABEL,
    KWOK_TOLERATION,
    MESSAGE,
    OUTCOME,
    RESYNC_SECONDS,
    OperatorProcess,
    Volumes,
    Waiter,
    annotate,
    create,
    dataset_manifest,
    finetunejob_manifest,
    get_json,
    publish_progress,
    ready_dataset,
    resolved_env,
    run_prepare,
    status,
)

from hack.controlplane import (
    cluster as controlplane,  # hack/ registered by conftest.py; `conftest` is ambiguous across tiers
)

REPO_ROOT = Path(__file__).resolve().parents[2]

CHART = REPO_ROOT / "charts" / "kubefactory"
LEASE = {"leaseDurationSeconds": 4, "renewDeadlineSeconds": 3, "retryPeriodSeconds": 0.5}
TAKEOVER_SECONDS = 10.0  # lease duration + a few retry periods + a process start
EXIT_LOST_LEADERSHIP = 3
PROGRESS = {"step": 20, "totalSteps": 100, "loss": 1.25, "latestCheckpoint": "checkpoint-20"}


# --- helm ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helm(control_plane: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``helm(*args)`` against the session's cluster, with its own config and cache folders."""
    binary = controlplane.layout.Binaries.default().helm
    if not binary.is_file():
        pytest.fail(f"helm is not built at {binary}: run `python3 hack/controlplane/cluster.py build`")
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        **os.environ,
        **{f"HELM_{kind}_HOME": str(home / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")},
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(binary), f"--kubeconfig={control_plane.kubeconfig}", *args]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed:\n{result.stderr}{result.stdout}")
        return result

    yield run


def values_file(directory: Path, values: dict[str, Any]) -> str:
    path = directory / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def template(
    helm: Any, namespace: str, values: dict[str, Any], directory: Path, *extra: str
) -> list[dict[str, Any]]:
    rendered = helm(
        "template", "kf", str(CHART), "--namespace", namespace, "-f", values_file(directory, values), *extra
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def free_ports(count: int) -> list[int]:
    ports: list[int] = controlplane.procs.free_ports(count)
    return ports


def chart_values(health_port: int, metrics_port: int, **extra: Any) -> dict[str, Any]:
    """The chart on this cluster: the operator pod on a kwok CPU node, its pods there too."""
    return {
        "tolerations": [KWOK_TOLERATION],
        "nodeSelector": {ACCELERATOR_LABEL: "cpu"},
        "leaderElection": dict(LEASE),
        "health": {"port": health_port},
        "metrics": {"port": metrics_port},
        "settings": {
            "defaultTolerations": [KWOK_TOLERATION],
            "nodeSelectors": {"cpu": {ACCELERATOR_LABEL: "cpu"}},
            "resyncSeconds": RESYNC_SECONDS,
            "bindAddress": "127.0.0.1",  # the tests run the operator on this shared host
        },
        **extra,
    }


# --- the chart's identity, run here ----------------------------------------------------------


def token_kubeconfig(cluster: Any, namespace: str, service_account: str, path: Path) -> Path:
    """A kubeconfig with a TokenRequest token of ``service_account`` (what a pod of it would hold)."""
    token = cluster.kubectl(
        "create", "token", service_account, "-n", namespace, "--duration=3600s"
    ).stdout.strip()
    admin = json.loads(Path(cluster.kubeconfig).read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": service_account, "user": {"token": token}}],
        "contexts": [
            {"name": "chart", "context": {"cluster": admin["clusters"][0]["name"], "user": service_account}}
        ],
        "current-context": "chart",
    }
    path.write_text(json.dumps(config))
    return path


class Release:
    """An installed release, and operators run here as its ServiceAccount with its settings."""

    def __init__(self, cluster: Any, helm: Any, namespace: str, name: str, workdir: Path) -> None:
        self.cluster, self.helm, self.namespace, self.name, self.workdir = (
            cluster,
            helm,
            namespace,
            name,
            workdir,
        )
        self.fullname = f"{name}-kubefactory"
        self.operators: list[OperatorProcess] = []

    @property
    def config(self) -> str:
        data = get_json(self.cluster, "configmap", f"{self.fullname}-config", "-n", self.namespace)["data"]
        text: str = data["config.yaml"]
        return text

    def kubeconfig(self) -> Path:
        return token_kubeconfig(
            self.cluster, self.namespace, self.fullname, self.workdir / "token.kubeconfig"
        )

    def operator(self, health_port: int | None = None, metrics_port: int | None = None) -> OperatorProcess:
        """An operator with the chart's config and ServiceAccount (ports overridable for a second one)."""
        workdir = Path(tempfile.mkdtemp(prefix="chart-operator-", dir=self.workdir))
        operator = OperatorProcess(self.kubeconfig(), workdir)
        operator.config.write_text(self.config)
        if health_port is not None:
            operator.env["KUBEFACTORY_OPERATOR_HEALTH_PORT"] = str(health_port)
        if metrics_port is not None:
            operator.env["KUBEFACTORY_OPERATOR_METRICS_PORT"] = str(metrics_port)
        self.operators.append(operator)
        return operator

    def lease_holder(self) -> str:
        lease = get_json(self.cluster, "lease", self.fullname, "-n", self.namespace)
        holder: str = lease["spec"].get("holderIdentity") or ""
        return holder

    def stop_all(self) -> None:
        for operator in self.operators:
            operator.stop()


@contextlib.contextmanager
def installed(
    cluster: Any, helm: Any, namespace: str, values: dict[str, Any], *extra: str
) -> Iterator[Release]:
    """``helm install`` (waiting until the kwok-run Deployment is available); uninstalled afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="chart-"))
    name = f"kf{namespace[-6:]}"
    helm(
        "install", name, str(CHART), "--namespace", namespace, "-f", values_file(workdir, values),
        "--wait", "--timeout", "90s", *extra,
    )  # fmt: skip
    release = Release(cluster, helm, namespace, name, workdir)
    try:
        yield release
    finally:
        release.stop_all()
        helm("uninstall", name, "--namespace", namespace, "--wait", check=False)
        shutil.rmtree(workdir, ignore_errors=True)


# --- reading the operator's endpoints ------------------------------------------------------------


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return 0, ""


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) → value; empty when nothing answers."""
    code, text = http_get(port, "/metrics")
    if code != 200:
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], metric: str, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


def leads(port: int) -> bool:
    return value(scrape(port), "kubefactory_leader") == 1.0


# --- lint and render -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra", [[], ["--set", "namespaces={team-a,team-b}"], ["--set", "metrics.serviceMonitor.enabled=true"]]
)
def test_helm_lint_is_clean(helm: Any, extra: list[str]) -> None:
    result = helm("lint", "--strict", str(CHART), *extra)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("watch_own_namespace", [False, True], ids=["cluster-wide", "namespaced"])
def test_rendered_manifests_pass_a_server_side_dry_run(
    control_plane: Any, crds: Any, helm: Any, namespace: str, tmp_path: Path, watch_own_namespace: bool
) -> None:
    values = chart_values(8081, 8080, namespaces=[namespace] if watch_own_namespace else [])
    docs = template(helm, namespace, values, tmp_path, "--include-crds")
    kinds = sorted({doc["kind"] for doc in docs})
    role_kind = "Role" if watch_own_namespace else "ClusterRole"
    assert {"CustomResourceDefinition", "Deployment", "Lease", role_kind, "Service", "ServiceAccount"} <= set(
        kinds
    )
    dry_run = control_plane.kubectl(
        "apply", "--dry-run=server", "--server-side", "--field-manager=chart-test", "-f", "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}), check=False,
    )  # fmt: skip
    assert dry_run.returncode == 0, dry_run.stderr
    assert dry_run.stdout.count("serverside-applied (server dry run)") == len(docs), dry_run.stdout


def test_the_operator_accepts_the_charts_settings(helm: Any, tmp_path: Path) -> None:
    values = chart_values(8081, 8080, namespaces=["team-a"])
    values["settings"].update(images={"nvidia": "registry.local/cuda:1"}, storageClassName="fast-rwx")
    (config_map,) = [
        doc for doc in template(helm, "kf-system", values, tmp_path) if doc["kind"] == "ConfigMap"
    ]
    (tmp_path / "config.yaml").write_text(config_map["data"]["config.yaml"])
    settings = load_settings({}, tmp_path / "config.yaml")
    assert settings.leader_election and settings.lease_namespace == "kf-system"
    assert settings.lease_name == "kf-kubefactory" and settings.namespaces == ["team-a"]
    assert settings.image_for("nvidia") == "registry.local/cuda:1"
    assert (settings.storage_class_name, settings.health_port, settings.metrics_port) == (
        "fast-rwx",
        8081,
        8080,
    )


def test_the_operator_pod_is_hardened(helm: Any, tmp_path: Path) -> None:
    (deployment,) = [doc for doc in template(helm, "kf-system", {}, tmp_path) if doc["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["image"] == "ghcr.io/kubefactory/operator:0.1.0"


def test_the_servicemonitor_is_rendered_only_when_enabled(helm: Any, tmp_path: Path) -> None:
    kinds = [doc["kind"] for doc in template(helm, "kf-system", {}, tmp_path)]
    assert "ServiceMonitor" not in kinds
    enabled = {"metrics": {"port": 9090, "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}}
    (monitor,) = [
        doc for doc in template(helm, "kf-system", enabled, tmp_path) if doc["kind"] == "ServiceMonitor"
    ]
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    no_service = {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}}
    failed = helm("template", "kf", str(CHART), "-f", values_file(tmp_path, no_service), check=False)
    assert (
        failed.returncode != 0
        and "metrics.serviceMonitor.enabled needs metrics.service.enabled" in failed.stderr
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"settings": {"images": {"intel": "x"}}}, "'intel'"),
        ({"settings": {"resync": 3}}, "additional properties 'resync' not allowed"),
        ({"settings": {"outputSize": "lots"}}, "/settings/outputSize"),
        ({"leaderElection": {"leaseDurationSeconds": 0}}, "/leaderElection/leaseDurationSeconds"),
    ],
)
def test_bad_values_are_rejected_naming_the_field(
    helm: Any, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    failed = helm("template", "kf", str(CHART), "-f", values_file(tmp_path, values), check=False)
    assert failed.returncode != 0 and message in failed.stderr, failed.stderr


# --- install, use, uninstall ----------------------------------------------------------------------


def operator_objects(cluster: Any, namespace: str, release: str) -> list[str]:
    """Everything the release created, namespaced and cluster-wide (found by its instance label)."""
    selector = f"app.kubernetes.io/instance={release},app.kubernetes.io/managed-by=Helm"
    kinds = "deployments,replicasets,pods,serviceaccounts,configmaps,services,leases,roles,rolebindings"
    names = cluster.kubectl("get", kinds, "-A", "-l", selector, "-o", "name").stdout.split()
    names += cluster.kubectl(
        "get", "clusterroles,clusterrolebindings", "-l", selector, "-o", "name"
    ).stdout.split()
    return names


def test_install_in_namespaced_mode_then_uninstall_leaves_nothing(
    control_plane: Any, crds: Any, helm: Any, namespace: str
) -> None:
    health, metrics = free_ports(2)
    values = chart_values(health, metrics, namespaces=[namespace])
    with installed(control_plane, helm, namespace, values) as release:
        found = operator_objects(control_plane, namespace, release.name)
        for wanted in (
            f"deployment.apps/{release.fullname}",
            f"serviceaccount/{release.fullname}",
            f"lease.coordination.k8s.io/{release.fullname}",
            f"role.rbac.authorization.k8s.io/{release.fullname}",
            f"role.rbac.authorization.k8s.io/{release.fullname}-leader-election",
            f"service/{release.fullname}-metrics",
        ):
            assert wanted in found, found
        assert not any(name.startswith("clusterrole") for name in found), found
        deployment = get_json(control_plane, "deployment", release.fullname, "-n", namespace)
        assert deployment["status"].get("availableReplicas") == 1  # on a kwok node, which fakes running it
        notes = helm("get", "notes", release.name, "--namespace", namespace).stdout
        assert "kubectl apply -f examples/quickstart/" in notes and namespace in notes
    assert operator_objects(control_plane, namespace, release.name) == []


def test_a_finetunejob_journey_with_the_charts_service_account(
    control_plane: Any, crds: Any, helm: Any, namespace: str, volumes: Volumes, tmp_path: Path
) -> None:
    health_port, metrics_port = free_ports(2)
    with installed(control_plane, helm, namespace, chart_values(health_port, metrics_port)) as release:
        clusterwide = f"{namespace}-{release.fullname}"
        assert get_json(control_plane, "clusterrole", clusterwide)["rules"]  # the default: every namespace
        kubeconfig = release.kubeconfig()

        def as_chart(*args: str) -> subprocess.CompletedProcess[str]:
            return control_plane.kubectl(*args, "-n", namespace, kubeconfig=kubeconfig, check=False)

        # what the chart's identity may not do
        denied = as_chart("get", "secrets")
        assert denied.returncode != 0 and "Forbidden" in denied.stderr, denied
        for verb, resource in (
            ("get", "secrets"),
            ("create", "pods"),
            ("patch", "finetunejobs"),
            ("create", "leases"),
        ):
            assert as_chart("auth", "can-i", verb, resource).stdout.strip() == "no", (verb, resource)
        assert (
            as_chart("auth", "can-i", "patch", "finetunejobs", "--subresource=status").stdout.strip() == "yes"
        )

        operator = release.operator()
        operator.start()
        wait = Waiter(control_plane, operator, namespace)
        wait.until(
            "the operator to lead and be ready",
            lambda: http_get(health_port, "/readyz") == (200, "leading, watching\n"),
        )
        assert http_get(health_port, "/healthz")[0] == 200
        assert release.lease_holder().startswith(f"{os.uname().nodename}_")
        before = scrape(metrics_port)

        ready_dataset(control_plane, wait, volumes, tmp_path)
        volumes.provide(namespace, "sft-output")
        resources = {"accelerator": "nvidia", "acceleratorsPerNode": 1, "nodes": 2}
        create(control_plane, finetunejob_manifest("sft", namespace, resources=resources))
        pods = wait.pods("kubefactory.io/finetunejob=sft,kubefactory.io/attempt=1", 2)
        publish_progress(control_plane, namespace, "sft", PROGRESS)
        wait.until(
            "the checkpoint in the status",
            lambda: status(control_plane, namespace, "finetunejob", "sft").get("latestCheckpoint"),
        )

        during = scrape(metrics_port)
        for kind in ("Dataset", "FineTuneJob"):
            assert value(during, "kubefactory_reconciles_total", kind=kind) > value(
                before, "kubefactory_reconciles_total", kind=kind
            )
            assert value(during, "kubefactory_reconcile_duration_seconds_count", kind=kind) > 0
        assert value(during, "kubefactory_objects", kind="Dataset", phase="Ready") >= 1
        assert value(during, "kubefactory_finetunejob_progress_step", namespace=namespace, name="sft") == 20
        assert value(during, "kubefactory_leader") == 1

        # a node fails: the group restarts from the checkpoint (deleting a Job, creating the next)
        rank_one = next(pod for pod in pods if resolved_env(pod)["NODE_RANK"] == "1")
        annotate(
            control_plane, namespace, rank_one["metadata"]["name"], {OUTCOME: "fail", MESSAGE: "NCCL timeout"}
        )
        second = wait.pods("kubefactory.io/finetunejob=sft,kubefactory.io/attempt=2", 2)
        wait.until(
            "the restart to be counted",
            lambda: (
                value(scrape(metrics_port), "kubefactory_finetunejob_restarts_total", from_checkpoint="true")
                == 1
            ),
        )
        for pod in second:
            annotate(control_plane, namespace, pod["metadata"]["name"], {OUTCOME: "succeed"})
        done = wait.phase("finetunejob", "sft", "Succeeded")
        assert done["outputLocation"] == "pvc://sft-output/sft"
        wait.until(
            "Succeeded in the metrics",
            lambda: (
                value(scrape(metrics_port), "kubefactory_objects", kind="FineTuneJob", phase="Succeeded") == 1
            ),
        )

        log = operator.log.read_text()
        assert " 403 " not in log and "Forbidden" not in log, operator.tail(60)
        operator.stop()  # SIGTERM: the leader lets go of its Lease
        assert release.lease_holder() == ""

    # uninstalled: no operator object is left, and everything users made or trained is
    assert operator_objects(control_plane, namespace, release.name) == []
    assert control_plane.kubectl("get", "clusterrole", clusterwide, check=False).returncode != 0
    assert status(control_plane, namespace, "finetunejob", "sft")["phase"] == "Succeeded"
    assert status(control_plane, namespace, "dataset", "identity")["phase"] == "Ready"
    claims = control_plane.kubectl("get", "pvc", "-n", namespace, "-o", "name").stdout.split()
    assert {"persistentvolumeclaim/sft-output", "persistentvolumeclaim/identity-data"} <= set(claims)
    assert len(crds) == 3 and control_plane.kubectl("get", *crds).returncode == 0


def test_two_replicas_never_act_together_and_the_standby_takes_over(
    control_plane: Any, crds: Any, helm: Any, namespace: str, volumes: Volumes, tmp_path: Path
) -> None:
    health_a, metrics_a, health_b, metrics_b = free_ports(4)
    with installed(
        control_plane, helm, namespace, chart_values(health_a, metrics_a, replicaCount=2)
    ) as release:
        first = release.operator()
        first.start()
        second = release.operator(health_b, metrics_b)
        wait = Waiter(control_plane, first, namespace)
        wait.until("the first operator to lead", lambda: leads(metrics_a))
        second.start()
        wait.until(
            "the second one to stand by, ready",
            lambda: http_get(health_b, "/readyz") == (200, "standing by\n"),
        )

        # work arrives: exactly one of them reconciles it
        rows = [{"instruction": "hi", "input": "", "output": "hello"}]
        control_plane.kubectl(
            "create", "configmap", "rows", "-n", namespace, f"--from-literal=data.json={json.dumps(rows)}"
        )
        volumes.provide(namespace, "first-data")
        create(control_plane, dataset_manifest("first", namespace, "rows"))
        wait.until(
            "the leader to reconcile",
            lambda: value(scrape(metrics_a), "kubefactory_reconciles_total", kind="Dataset") > 0,
        )
        time.sleep(RESYNC_SECONDS * 2)  # resyncs and events that a standby would act on, if it did
        standby = scrape(metrics_b)
        assert value(standby, "kubefactory_leader") == 0
        assert value(standby, "kubefactory_reconciles_total", kind="Dataset") == 0

        # the leader dies without a word: the standby takes over once the Lease expires
        first.kill()
        killed = time.monotonic()
        wait.until("the standby to lead", lambda: leads(metrics_b), timeout=TAKEOVER_SECONDS + 5)
        took = time.monotonic() - killed
        assert took < TAKEOVER_SECONDS, f"took over after {took:.1f}s"
        code, report = run_prepare(rows, tmp_path / "first", "first")
        (pod,) = wait.pods("kubefactory.io/dataset=first", 1)
        annotate(control_plane, namespace, pod["metadata"]["name"], {OUTCOME: "succeed", MESSAGE: report})
        wait.phase("dataset", "first", "Ready")  # the new leader acted
        assert code == 0 and value(scrape(metrics_b), "kubefactory_reconciles_total", kind="Dataset") > 0

        # a leader stopped on purpose hands over at once, without waiting for the Lease to expire
        first.start()
        wait.until(
            "the restarted one to stand by", lambda: http_get(health_a, "/readyz") == (200, "standing by\n")
        )
        second.stop()
        stopped = time.monotonic()
        wait.until("the standby to lead again", lambda: leads(metrics_a), timeout=TAKEOVER_SECONDS)
        assert time.monotonic() - stopped < LEASE["leaseDurationSeconds"] + 2

        # a leader that finds the Lease taken stops acting at once: it exits
        patch = {"spec": {"holderIdentity": "someone-else", "leaseDurationSeconds": 60}}
        control_plane.kubectl(
            "patch", "lease", release.fullname, "-n", namespace, "--type=merge", "-p", json.dumps(patch)
        )
        assert first.process is not None
        assert first.process.wait(10) == EXIT_LOST_LEADERSHIP, first.tail()
        assert "stopping: Lease" in first.log.read_text()
