"""ModelServer: a base model or a FineTuneJob's result behind an OpenAI-compatible endpoint."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from .common import (
    DNS_LABEL,
    Accelerator,
    ApiModel,
    CelRule,
    Condition,
    LocalObjectReference,
    ModelUri,
    Placement,
    Quantity,
    Resource,
    SecretKeyReference,
    conditions_field,
    count_set,
    observed_generation_field,
    section,
)

Engine = Literal["sglang", "vllm", "huggingface"]
ModelServerPhase = Literal["Pending", "Merging", "Deploying", "Ready", "Failed"]


class ServingPhase:
    """The values of ``status.phase`` (``ModelServerPhase``, the schema's enum)."""

    PENDING: Final = "Pending"
    MERGING: Final = "Merging"
    DEPLOYING: Final = "Deploying"
    READY: Final = "Ready"
    FAILED: Final = "Failed"


class ServingCondition:
    """The types of ``status.conditions``."""

    MODEL_READY: Final = "ModelReady"
    AVAILABLE: Final = "Available"
    PROGRESSING: Final = "Progressing"


class ServingReason:
    """The reasons of the conditions and events of a ModelServer."""

    INVALID_SPEC: Final = "InvalidSpec"
    LEADER_WORKER_SET_REQUIRED: Final = "LeaderWorkerSetRequired"
    NO_IMAGE: Final = "NoImage"
    # the model: its FineTuneJobs, adapters and merge
    FINETUNEJOB_NOT_FOUND: Final = "FineTuneJobNotFound"
    FINETUNEJOB_FAILED: Final = "FineTuneJobFailed"
    WAITING_FOR_FINETUNEJOB: Final = "WaitingForFineTuneJob"
    FINETUNEJOB_RESULT_UNSUPPORTED: Final = "FineTuneJobResultUnsupported"
    ADAPTER_NOT_LORA: Final = "AdapterNotLoRA"
    DUPLICATE_MODEL_NAME: Final = "DuplicateModelName"
    UNSUPPORTED_MODEL_LOCATION: Final = "UnsupportedModelLocation"
    MERGING: Final = "Merging"
    MERGE_FAILED: Final = "MergeFailed"
    MERGED: Final = "Merged"
    RESOLVED: Final = "Resolved"
    # the rollout
    AVAILABLE: Final = "Available"
    NO_REPLICA_READY: Final = "NoReplicaReady"
    PROGRESSING: Final = "Progressing"
    ROLLOUT_COMPLETE: Final = "RolloutComplete"
    PROGRESS_DEADLINE_EXCEEDED: Final = "ProgressDeadlineExceeded"
    # events
    MERGE_JOB_CREATED: Final = "MergeJobCreated"


class Adapter(ApiModel):
    """A LoRA adapter the engine serves on top of the base model, under its own model name."""

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=DNS_LABEL,
        description="Model name clients ask for to use this adapter.",
    )
    uri: ModelUri | None = Field(
        None, description="Where the adapter is: hf://, pvc://, s3://, gs:// or a path."
    )
    fine_tune_job: LocalObjectReference | None = Field(
        None, description="A FineTuneJob whose result is the adapter."
    )

    cel_rules = (
        CelRule(
            "has(self.uri) != has(self.fineTuneJob)",
            "set exactly one of uri and fineTuneJob",
            check=lambda s: count_set(s.uri, s.fine_tune_job) == 1,
        ),
    )


class Autoscaling(ApiModel):
    """A HorizontalPodAutoscaler for the server; it then owns spec.replicas."""

    min_replicas: int = Field(1, ge=1, description="Fewest replicas. Default: 1.")
    max_replicas: int = Field(ge=1, le=1000, description="Most replicas.")
    target_cpu_utilization_percent: int | None = Field(
        None,
        ge=1,
        le=100,
        alias="targetCPUUtilizationPercent",
        description="Scale to keep CPU use near this percentage of the request.",
    )
    target_requests_per_replica: int | None = Field(
        None,
        ge=1,
        description="Scale to keep this many requests in flight per replica (a pods metric; needs a metrics adapter).",
    )

    cel_rules = (
        CelRule(
            "self.maxReplicas >= self.minReplicas",
            "maxReplicas must be at least minReplicas",
            field_path=".maxReplicas",
            check=lambda s: s.max_replicas >= s.min_replicas,
        ),
    )


class ServingResources(ApiModel):
    """What each replica gets."""

    accelerator: Accelerator = Field(
        "nvidia", description="Accelerator vendor: nvidia (CUDA), amd (ROCm), ascend (Ascend NPU) or cpu."
    )
    accelerators: int = Field(
        1,
        ge=1,
        le=64,
        description="Accelerators per replica, the engine's tensor-parallel size; ignored for cpu. Default: 1.",
    )
    cpu: Quantity | None = Field(None, description="CPU request and limit per replica, e.g. 8 or 7500m.")
    memory: Quantity | None = Field(None, description="Memory request and limit per replica, e.g. 64Gi.")
    shared_memory: Quantity | None = Field(None, description="Size of /dev/shm per replica.")
    nodes_per_replica: int = Field(
        1,
        ge=1,
        le=64,
        description="Nodes one replica spans, for models larger than a node's accelerators (served with "
        "a LeaderWorkerSet). Default: 1.",
    )


class ModelServerSpec(ApiModel):
    """What to serve, with which engine, on how many replicas."""

    model: ModelUri | None = Field(
        None,
        description="Base model: hf://owner/name, pvc://claim/path, s3://, gs:// or a path. Or set fineTuneJob.",
    )
    fine_tune_job: LocalObjectReference | None = Field(
        None, description="Serve this FineTuneJob's result (its base model with its adapter). Or set model."
    )
    merge: bool = Field(
        False,
        description="Merge the FineTuneJob's LoRA adapter into its base model (a merge Job runs first) "
        "instead of serving it as an adapter.",
    )
    adapters: list[Adapter] | None = Field(
        None,
        max_length=32,
        description="More LoRA adapters served next to the model (multi-LoRA), each under its own name.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    served_model_name: str | None = Field(
        None, max_length=253, description="Model name clients ask for; default: the ModelServer's name."
    )
    engine: Engine = Field(
        "huggingface",
        description="Inference engine: sglang, vllm or huggingface (built in). Default: huggingface.",
    )
    engine_args: list[str] | None = Field(
        None,
        max_length=64,
        description="Extra command-line arguments of the engine, appended as given.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )
    replicas: int = Field(1, ge=0, description="Number of replicas when autoscaling is not set. Default: 1.")
    autoscaling: Autoscaling | None = Field(
        None, description="Scale the replicas with a HorizontalPodAutoscaler."
    )
    resources: ServingResources = section(ServingResources, "Accelerators, CPU and memory per replica.")
    scheduling: Placement = section(Placement, "Where the replicas may run.")
    image: str | None = Field(
        None, max_length=1024, description="Server image; default: the engine's image for the accelerator."
    )
    api_key_secret_ref: SecretKeyReference | None = Field(
        None,
        description="A Secret key holding the API key clients must send (Authorization: Bearer <key>); "
        "default: no key.",
    )

    cel_rules = (
        CelRule(
            "has(self.model) != has(self.fineTuneJob)",
            "set exactly one of model and fineTuneJob",
            check=lambda s: count_set(s.model, s.fine_tune_job) == 1,
        ),
        CelRule(
            "!self.merge || has(self.fineTuneJob)",
            "merge applies to a FineTuneJob's adapter; set fineTuneJob",
            field_path=".merge",
            check=lambda s: not s.merge or s.fine_tune_job is not None,
        ),
    )


class ModelServerStatus(ApiModel):
    """What the operator observed."""

    phase: ModelServerPhase | None = Field(None, description="Pending, Merging, Deploying, Ready or Failed.")
    observed_generation: int | None = observed_generation_field()
    conditions: list[Condition] | None = conditions_field("ModelReady, Available, Progressing")
    replicas: int | None = Field(
        None, ge=0, description="Replicas that exist (the scale subresource reads it)."
    )
    ready_replicas: int | None = Field(None, ge=0, description="Replicas ready to serve.")
    selector: str | None = Field(
        None, description="Label selector of the replicas' pods (for the scale subresource)."
    )
    url: str | None = Field(
        None, description="OpenAI-compatible endpoint inside the cluster, e.g. http://name.ns.svc:8000/v1."
    )
    served_models: list[str] | None = Field(
        None,
        description="Model names the endpoint answers to.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )


class ModelServer(Resource):
    """Serves a base model or a FineTuneJob's result behind an OpenAI-compatible endpoint."""

    kind: Literal["ModelServer"] = Field("ModelServer", description="ModelServer.")
    spec: ModelServerSpec = Field(description="What to serve, with which engine, on how many replicas.")
    status: ModelServerStatus | None = Field(None, description="What the operator observed.")
