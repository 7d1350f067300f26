"""What ``kubefactory run`` runs, as a pure function of the manifests: the pods the builders render.

Each kind is turned into the pods a cluster would run for it, built by the operator's builders
(the same rendered config, commands, environment and volumes), with the children's bodies that the
next kind reads (a Ready Dataset's location, a Succeeded FineTuneJob's output) written as the
operator would record them. What only a cluster can run (several nodes, accelerators this machine
lacks) is an error naming the field, unless ``scale_down`` asks for the nearest one-node run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api.dataset import Dataset
from ..api.finetunejob import FineTuneJob, FineTuneJobSpec
from ..api.modelserver import ModelServer, ModelServerSpec
from ..builders.inputs import TrainingInputs
from ..builders.merge_job import merge_job
from ..builders.model_fetch import CACHE_VOLUME, FETCHED_VOLUME, fetch_init_container, needs_fetch
from ..builders.pod_common import claim_volume
from ..builders.prepare_job import location, prepare_job_manifest
from ..builders.rendered_config import config_map as training_config_map
from ..builders.result_upload import upload_job
from ..builders.server_deployment import engine_image, server_pod_template
from ..builders.serving_children import config_files
from ..builders.serving_children import config_map as serving_config_map
from ..builders.trainer_job import trainer_job
from ..naming import dns_label, owner_of
from ..reconcile.serving_sources import Problem, resolve
from ..reconcile.training_plan import resolve_datasets
from ..settings import OperatorSettings
from .manifests import LocalRunError

LOCAL_ENGINES = ("huggingface",)  # vLLM and SGLang run in their own images on a cluster
DONE_TIME = "1970-01-01T00:00:00Z"  # a fixed completion time: the plan has no clock
MODEL_CACHE_CLAIM = "kubefactory-model-cache"  # the shared model cache, a folder like every claim here


@dataclass(frozen=True)
class LocalAccelerators:
    """What this machine has: a vendor (nvidia, amd, ascend or cpu) and how many devices."""

    vendor: str = "cpu"
    count: int = 0


@dataclass(frozen=True)
class LocalPod:
    """One pod of a cluster run, to be run here as a process."""

    name: str  # the pod's name on a cluster (a Job's pods: <job>-<index>)
    owner: str  # Kind/name
    spec: dict[str, Any]  # the pod spec, as the builders rendered it
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)  # rendered ConfigMaps by name
    serves: bool = False  # a Deployment's pod: it runs until stopped
    notes: tuple[str, ...] = ()  # what differs from the cluster run, said to the user


def _body(resource: Dataset | FineTuneJob | ModelServer) -> dict[str, Any]:
    return resource.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- models named by hf:// and s3:// --------------------------------------------------------------


def model_fetch_pod(owner: str, uri: str, settings: OperatorSettings, what: str = "model") -> LocalPod | None:
    """The init container a cluster pod fetches its model with, run here as a pod of its own first."""
    if not needs_fetch(uri):
        return None
    container = fetch_init_container(uri, settings.prepare_image, settings.image_pull_policy)
    volumes = [claim_volume(CACHE_VOLUME, MODEL_CACHE_CLAIM), {"name": FETCHED_VOLUME, "emptyDir": {}}]
    name = dns_label(owner.lower().replace("/", "-"), f"-fetch-{what}")
    return LocalPod(name, owner, {"containers": [container], "volumes": volumes})


def with_model(resource: FineTuneJob | ModelServer, path: str) -> Any:
    """The resource with its model replaced by the fetched folder (a path, as one in the image)."""
    return resource.model_copy(update={"spec": resource.spec.model_copy(update={"model": path})})


# --- Datasets -------------------------------------------------------------------------------------


def dataset_pod(dataset: Dataset, settings: OperatorSettings) -> LocalPod:
    body = _body(dataset)
    job = prepare_job_manifest(owner_of(body), dataset.spec, settings)
    return LocalPod(f"{job['metadata']['name']}-0", f"Dataset/{body['metadata']['name']}", _pod_spec(job))


def ready_dataset(dataset: Dataset) -> dict[str, Any]:
    """The Dataset as the operator records it once its prepare Job succeeded."""
    body = _body(dataset)
    body["status"] = {
        "phase": "Ready",
        "observedGeneration": body["metadata"].get("generation"),
        "location": location(owner_of(body), dataset.spec),
    }
    return body


# --- FineTuneJobs ---------------------------------------------------------------------------------


def fit_training(
    spec: FineTuneJobSpec, here: LocalAccelerators, scale_down: bool
) -> tuple[FineTuneJobSpec, list[str]]:
    """The spec a one-node run on this machine can honour, and notes on what was scaled down."""
    resources = spec.resources
    notes: list[str] = []
    update: dict[str, Any] = {}
    if resources.nodes > 1:
        if not scale_down:
            raise LocalRunError(
                f"spec.resources.nodes: {resources.nodes} nodes; kubefactory run runs one node "
                "(pass --scale-down to run this job on one)"
            )
        update["nodes"] = 1
        notes.append(f"spec.resources.nodes scaled down from {resources.nodes} to 1")
    if resources.accelerator != "cpu":
        have = here.count if here.vendor == resources.accelerator else 0
        want = resources.accelerators_per_node
        if have < want:
            if not scale_down:
                raise LocalRunError(
                    f"spec.resources.acceleratorsPerNode: {want} {resources.accelerator} accelerators asked, "
                    f"this machine has {have} (pass --scale-down to run on what it has)"
                )
            if have:
                update["accelerators_per_node"] = have
                notes.append(f"spec.resources.acceleratorsPerNode scaled down from {want} to {have}")
            else:
                update.update(accelerator="cpu", accelerators_per_node=1)
                notes.append(
                    f"spec.resources.accelerator: no {resources.accelerator} device here; on the CPU"
                )
    if not update:
        return spec, notes
    return spec.model_copy(update={"resources": resources.model_copy(update=update)}), notes


def training_inputs(
    job: FineTuneJob, datasets: dict[str, dict[str, Any] | None], here: LocalAccelerators, scale_down: bool
) -> tuple[TrainingInputs, list[str]]:
    body = _body(job)
    owner = owner_of(body)
    spec, notes = fit_training(job.spec, here, scale_down)
    train, evaluate, problems = resolve_datasets(spec, datasets, owner.namespace)
    if problems:
        lines = [f"FineTuneJob/{owner.name}: {problem.message}" for problem in problems]
        raise LocalRunError("\n".join(lines) + "\n(give every Dataset it names to -f)")
    return TrainingInputs(owner, spec, 1, tuple(train), tuple(evaluate)), notes


def training_pod(inputs: TrainingInputs, settings: OperatorSettings, notes: list[str]) -> LocalPod:
    config = training_config_map(
        inputs.owner,
        inputs.names.config,
        inputs.spec,
        list(inputs.datasets),
        list(inputs.eval_datasets),
        None,
    )
    job = trainer_job(inputs, settings, suspend=False)
    return LocalPod(
        f"{inputs.job_name}-0",
        f"FineTuneJob/{inputs.owner.name}",
        _pod_spec(job),
        {config["metadata"]["name"]: dict(config["data"])},
        notes=tuple(notes),
    )


def upload_pod(inputs: TrainingInputs, settings: OperatorSettings) -> LocalPod | None:
    """The upload Job's pod, when the result goes to spec.output.bucket."""
    job = upload_job(inputs, settings)
    if job is None:
        return None
    return LocalPod(f"{job['metadata']['name']}-0", f"FineTuneJob/{inputs.owner.name}", _pod_spec(job))


def succeeded_job(job: FineTuneJob, inputs: TrainingInputs) -> dict[str, Any]:
    """The FineTuneJob as the operator records it once its Job succeeded."""
    body = _body(job)
    body["status"] = {
        "phase": "Succeeded",
        "observedGeneration": body["metadata"].get("generation"),
        "outputLocation": inputs.output_location,
        "completionTime": DONE_TIME,
    }
    return body


# --- ModelServers ---------------------------------------------------------------------------------


def fit_serving(
    spec: ModelServerSpec, here: LocalAccelerators, scale_down: bool
) -> tuple[ModelServerSpec, list[str]]:
    resources = spec.resources
    notes: list[str] = []
    if spec.engine not in LOCAL_ENGINES:
        raise LocalRunError(
            f"spec.engine: {spec.engine} runs from its own image on a cluster; kubefactory run starts "
            f"{', '.join(LOCAL_ENGINES)}"
        )
    update: dict[str, Any] = {}
    if resources.nodes_per_replica > 1:
        if not scale_down:
            raise LocalRunError(
                f"spec.resources.nodesPerReplica: {resources.nodes_per_replica}; kubefactory run runs one node "
                "(pass --scale-down)"
            )
        update["nodes_per_replica"] = 1
    if resources.accelerator != "cpu":
        have = here.count if here.vendor == resources.accelerator else 0
        if have < resources.accelerators:
            if not scale_down:
                raise LocalRunError(
                    f"spec.resources.accelerators: {resources.accelerators} {resources.accelerator} accelerators "
                    f"asked, this machine has {have} (pass --scale-down to run on what it has)"
                )
            update.update({"accelerators": have} if have else {"accelerator": "cpu", "accelerators": 1})
            notes.append(f"spec.resources scaled down to {have or 'no'} {resources.accelerator} accelerators")
    changed = {"resources": resources.model_copy(update=update)} if update else {}
    if spec.replicas != 1 or spec.autoscaling is not None:
        notes.append("one replica runs here (spec.replicas and spec.autoscaling are for a cluster)")
    return (spec.model_copy(update=changed) if changed else spec), notes


def serving_pods(
    server: ModelServer,
    finetunejobs: dict[str, dict[str, Any] | None],
    settings: OperatorSettings,
    here: LocalAccelerators,
    scale_down: bool,
) -> list[LocalPod]:
    """The merge Job's pod when the adapter is merged first, then the server's pod."""
    body = _body(server)
    owner = owner_of(body)
    spec, notes = fit_serving(server.spec, here, scale_down)
    resolved = resolve(owner, spec, finetunejobs)
    if isinstance(resolved, list):
        raise LocalRunError("\n".join(_problem(owner.name, p) for p in resolved))
    rendered = serving_config_map(resolved, config_files(resolved))
    config = {rendered["metadata"]["name"]: dict(rendered["data"])}
    pods: list[LocalPod] = []
    where = f"ModelServer/{owner.name}"
    if resolved.merge is not None:
        job = merge_job(resolved, settings)
        pods.append(LocalPod(f"{job['metadata']['name']}-0", where, _pod_spec(job), config))
    image = engine_image(resolved, settings) or ""
    template = server_pod_template(resolved, settings, image, resolved.revision)
    pods.append(
        LocalPod(
            f"{resolved.names.server}-0", where, template["spec"], config, serves=True, notes=tuple(notes)
        )
    )
    return pods


def _problem(name: str, problem: Problem) -> str:
    hint = "" if problem.failed else " (give that FineTuneJob to -f as well)"
    return f"ModelServer/{name}: {problem.message}{hint}"


def _pod_spec(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec
