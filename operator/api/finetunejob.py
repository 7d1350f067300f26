"""FineTuneJob: a base model, Datasets, and a LLaMA-Factory training config, run on N nodes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import Field

from .common import (
    BUCKET_URI,
    Accelerator,
    ApiModel,
    CelRule,
    Condition,
    LocalObjectReference,
    ModelUri,
    ObjectName,
    Placement,
    Quantity,
    Resource,
    SecretReference,
    conditions_field,
    observed_generation_field,
    section,
)
from .training import Training

FineTuneJobPhase = Literal[
    "Pending", "WaitingForDatasets", "Running", "Restarting", "Succeeded", "Failed", "Suspended"
]


class TrainingPhase:
    """The values of ``status.phase`` (``FineTuneJobPhase``, the schema's enum)."""

    PENDING: Final = "Pending"
    WAITING_FOR_DATASETS: Final = "WaitingForDatasets"
    RUNNING: Final = "Running"
    RESTARTING: Final = "Restarting"
    SUCCEEDED: Final = "Succeeded"
    FAILED: Final = "Failed"
    SUSPENDED: Final = "Suspended"


class TrainingCondition:
    """The types of ``status.conditions``."""

    DATASETS_READY: Final = "DatasetsReady"
    RUNNING: Final = "Running"
    SUCCEEDED: Final = "Succeeded"
    FAILED: Final = "Failed"
    SUSPENDED: Final = "Suspended"


class TrainingReason:
    """The reasons of the conditions and events of a FineTuneJob."""

    INVALID_SPEC: Final = "InvalidSpec"
    UNKNOWN_ACCELERATOR: Final = "UnknownAccelerator"
    # DatasetsReady
    ALL_READY: Final = "AllReady"
    DATASET_NOT_FOUND: Final = "DatasetNotFound"
    DATASET_INVALID: Final = "DatasetInvalid"
    DATASET_FAILED: Final = "DatasetFailed"
    DATASET_NOT_READY: Final = "DatasetNotReady"
    DATASET_UNSUPPORTED: Final = "DatasetUnsupported"
    # Running
    ALL_NODES_RUNNING: Final = "AllNodesRunning"
    PODS_PENDING: Final = "PodsPending"
    UNSCHEDULABLE: Final = "Unschedulable"
    RESTARTING: Final = "Restarting"
    SUSPENDED: Final = "Suspended"
    WAITING_FOR_DATASETS: Final = "WaitingForDatasets"
    WAITING_FOR_ADMISSION: Final = "WaitingForAdmission"
    COMPLETED: Final = "Completed"
    FAILED: Final = "Failed"
    # Succeeded, Suspended
    NOT_COMPLETED: Final = "NotCompleted"
    SUSPENDED_BY_SPEC: Final = "SuspendedBySpec"
    NOT_SUSPENDED: Final = "NotSuspended"
    # Failed (the failure policy's verdicts)
    NO_FAILURE: Final = "NoFailure"
    NON_RETRYABLE_EXIT_CODE: Final = "NonRetryableExitCode"
    RESTARTS_EXHAUSTED: Final = "RestartsExhausted"
    NODE_DISRUPTED: Final = "NodeDisrupted"
    ATTEMPT_FAILED: Final = "AttemptFailed"
    # events
    ATTEMPT_CREATED: Final = "AttemptCreated"


IMMUTABLE = ("model", "datasets", "evalDatasets", "training", "resources", "distributed", "output")


class TrainingResources(ApiModel):
    """What each node of the job gets."""

    accelerator: Accelerator = Field(
        "nvidia",
        description="Accelerator vendor: nvidia (CUDA), amd (ROCm), ascend (Ascend NPU) or cpu. "
        "Picks the device resource, image, visible-devices variable and collective backend.",
    )
    accelerators_per_node: int = Field(
        1,
        ge=1,
        le=64,
        description="Accelerators per node, and torchrun processes per node (processes per node for cpu). Default: 1.",
    )
    nodes: int = Field(
        1, ge=1, le=4096, description="Number of nodes (pods), one torchrun node each. Default: 1."
    )
    cpu: Quantity | None = Field(None, description="CPU request and limit per node, e.g. 8 or 7500m.")
    memory: Quantity | None = Field(None, description="Memory request and limit per node, e.g. 64Gi.")
    shared_memory: Quantity | None = Field(
        None,
        description="Size of /dev/shm per node, for data loader workers and NCCL; default: half of memory.",
    )


class DeepSpeed(ApiModel):
    """DeepSpeed ZeRO settings; KubeFactory writes the DeepSpeed config from them."""

    zero_stage: Literal[0, 1, 2, 3] = Field(2, description="ZeRO stage: 0, 1, 2 or 3. Default: 2.")
    offload_optimizer: bool = Field(False, description="Keep optimizer states in CPU memory.")
    offload_parameters: bool = Field(False, description="Keep parameters in CPU memory (ZeRO stage 3 only).")

    cel_rules = (
        CelRule(
            "!self.offloadParameters || self.zeroStage == 3",
            "offloadParameters needs zeroStage 3",
            field_path=".offloadParameters",
            check=lambda s: not s.offload_parameters or s.zero_stage == 3,
        ),
    )


class Fsdp(ApiModel):
    """PyTorch FSDP settings."""

    version: Literal[1, 2] = Field(
        2, description="FSDP version: 1 or 2 (per-parameter sharding). Default: 2."
    )
    sharding_strategy: Literal["full_shard", "shard_grad_op", "hybrid_shard", "no_shard"] = Field(
        "full_shard", description="What is sharded across processes. Default: full_shard."
    )
    offload: bool = Field(False, description="Offload parameters and gradients to CPU memory.")


class Distributed(ApiModel):
    """How the processes share the work."""

    strategy: Literal["auto", "ddp", "deepspeed", "fsdp"] = Field(
        "auto", description="auto (ddp when there is more than one process), ddp, deepspeed or fsdp."
    )
    deepspeed: DeepSpeed | None = Field(None, description="DeepSpeed settings; needs strategy deepspeed.")
    fsdp: Fsdp | None = Field(None, description="FSDP settings; needs strategy fsdp.")
    master_port: int = Field(
        29500, ge=1024, le=65535, description="Rendezvous port of node 0. Default: 29500."
    )

    cel_rules = (
        CelRule(
            "!has(self.deepspeed) || self.strategy == 'deepspeed'",
            "deepspeed settings need strategy: deepspeed",
            field_path=".deepspeed",
            check=lambda s: s.deepspeed is None or s.strategy == "deepspeed",
        ),
        CelRule(
            "!has(self.fsdp) || self.strategy == 'fsdp'",
            "fsdp settings need strategy: fsdp",
            field_path=".fsdp",
            check=lambda s: s.fsdp is None or s.strategy == "fsdp",
        ),
    )


class PvcOutput(ApiModel):
    """A PersistentVolumeClaim for the result and the checkpoints."""

    claim_name: ObjectName | None = Field(
        None, description="An existing claim to write to; default: a claim the operator creates and owns."
    )
    size: Quantity | None = Field(None, description="Size of the claim the operator creates. Default: 100Gi.")
    storage_class_name: str | None = Field(
        None, description="StorageClass of the claim the operator creates."
    )
    sub_path: str | None = Field(
        None,
        max_length=4096,
        pattern=r"^[^/]",
        description="Folder inside the volume; default: the job's name.",
    )

    cel_rules = (
        CelRule(
            "!has(self.claimName) || (!has(self.size) && !has(self.storageClassName))",
            "size and storageClassName describe a claim the operator creates; drop them when claimName names an existing one",
            check=lambda s: s.claim_name is None or (s.size is None and s.storage_class_name is None),
        ),
    )


class BucketOutput(ApiModel):
    """An object-store location the result is uploaded to when training succeeds."""

    uri: str = Field(
        max_length=4096, pattern=BUCKET_URI, description="s3://bucket/prefix or gs://bucket/prefix."
    )
    secret_ref: SecretReference | None = Field(None, description="Credentials for the bucket.")


class Output(ApiModel):
    """Where the trained model (adapter or full weights) and the checkpoints go."""

    pvc: PvcOutput | None = Field(None, description="Write to a PersistentVolumeClaim (the default).")
    bucket: BucketOutput | None = Field(
        None, description="Upload the result to a bucket; checkpoints stay on a claim the operator creates."
    )
    retain: bool = Field(
        True,
        description="Keep the claim the operator creates when the FineTuneJob is deleted (the default); "
        "false deletes it with the FineTuneJob.",
    )

    cel_rules = (
        CelRule(
            "!(has(self.pvc) && has(self.bucket))",
            "set at most one of pvc and bucket",
            check=lambda s: s.pvc is None or s.bucket is None,
        ),
    )


class Checkpointing(ApiModel):
    """How restarts pick up where training stopped. How often to save is training.save_steps."""

    resume: bool = Field(
        True, description="A restarted attempt resumes from the latest complete checkpoint. Default: true."
    )
    resume_from: str | None = Field(
        None,
        max_length=4096,
        description="A checkpoint the first attempt starts from (a path or pvc:// URI).",
    )


class FailurePolicy(ApiModel):
    """When a failed attempt is restarted from its latest checkpoint, and when the job fails."""

    max_restarts: int = Field(3, ge=0, le=1000, description="Restarts before the job fails. Default: 3.")
    retryable_exit_codes: list[Annotated[int, Field(ge=1, le=255)]] | None = Field(
        None,
        max_length=32,
        description="Exit codes of the trainer that restart the job; any other failure fails it. "
        "Default: every failure restarts. Lost nodes and evicted pods always restart.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


class GangScheduling(ApiModel):
    """Volcano gang scheduling: every node of the job starts together, or none does."""

    scheduler_name: str = Field("volcano", description="Scheduler that gangs the pods. Default: volcano.")
    queue: str | None = Field(None, description="Volcano queue of the job's PodGroup.")


class TrainingScheduling(Placement):
    """Which queue admits the job and where its pods may run."""

    queue_name: str | None = Field(
        None,
        max_length=253,
        description="Kueue LocalQueue that admits the job (label kueue.x-k8s.io/queue-name).",
    )
    gang: GangScheduling | None = Field(None, description="Gang-schedule the pods with Volcano.")

    cel_rules = (
        CelRule(
            "!(has(self.queueName) && has(self.gang))",
            "use Kueue (queueName) or Volcano (gang), not both",
            check=lambda s: s.queue_name is None or s.gang is None,
        ),
    )


def _unchanged(field: str) -> str:
    return f"has(self.{field}) == has(oldSelf.{field}) && (!has(self.{field}) || self.{field} == oldSelf.{field})"


class FineTuneJobSpec(ApiModel):
    """What to train, on what, with which settings and resources."""

    model: ModelUri = Field(
        description="Base model: hf://owner/name, pvc://claim/path, s3://bucket/prefix, gs://bucket/prefix, or a path."
    )
    datasets: list[LocalObjectReference] = Field(
        min_length=1,
        max_length=16,
        description="Datasets to train on, mixed as training.mix_strategy says.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )
    eval_datasets: list[LocalObjectReference] | None = Field(
        None,
        max_length=16,
        description="Datasets to evaluate on.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )
    training: Training = Field(
        description="The training config, with LLaMA-Factory's training-YAML keys verbatim (snake_case): an "
        "existing `llamafactory-cli train` YAML can be pasted in, minus the keys this object sets elsewhere "
        "(model_name_or_path, dataset, eval_dataset, dataset_dir, output_dir, deepspeed, fsdp, fsdp_config)."
    )
    resources: TrainingResources = section(TrainingResources, "Accelerators, nodes, CPU and memory.")
    distributed: Distributed = section(Distributed, "DDP, DeepSpeed or FSDP.")
    output: Output = section(Output, "Where the result and the checkpoints go.")
    checkpointing: Checkpointing = section(Checkpointing, "Resuming from checkpoints.")
    failure_policy: FailurePolicy = section(FailurePolicy, "Restarts after failures.")
    scheduling: TrainingScheduling = section(TrainingScheduling, "Queueing, gang scheduling and placement.")
    suspend: bool = Field(
        False, description="Stop the job's pods (keeping checkpoints) until set back to false."
    )
    image: str | None = Field(
        None,
        max_length=1024,
        description="Trainer image; default: the accelerator's KubeFactory runtime image.",
    )

    cel_rules = tuple(
        CelRule(
            _unchanged(field),
            f"{field} is immutable: create a new FineTuneJob to change it",
            field_path=f".{field}",
        )
        for field in IMMUTABLE
    )


class Progress(ApiModel):
    """Where training is, as the trainer last reported it."""

    step: int | None = Field(None, ge=0, description="Optimizer steps done.")
    total_steps: int | None = Field(None, ge=0, description="Optimizer steps in all.")
    epoch: float | None = Field(None, ge=0, description="Epochs done, fractional.")
    loss: float | None = Field(None, description="Latest training loss.")
    learning_rate: float | None = Field(None, description="Latest learning rate.")
    tokens_per_second: float | None = Field(None, ge=0, description="Training throughput over all processes.")
    eta_seconds: int | None = Field(None, ge=0, description="Estimated seconds until training ends.")
    summary: str | None = Field(
        None, max_length=64, description="Short form for kubectl get, e.g. 120/1000 (12%)."
    )
    update_time: datetime | None = Field(None, description="When the trainer last reported.")


class FineTuneJobStatus(ApiModel):
    """What the operator observed."""

    phase: FineTuneJobPhase | None = Field(
        None, description="Pending, WaitingForDatasets, Running, Restarting, Succeeded, Failed or Suspended."
    )
    observed_generation: int | None = observed_generation_field()
    conditions: list[Condition] | None = conditions_field(
        "DatasetsReady, Running, Succeeded, Failed, Suspended"
    )
    attempts: int | None = Field(None, ge=0, description="Attempts started, the first one included.")
    start_time: datetime | None = Field(None, description="When the first attempt started.")
    completion_time: datetime | None = Field(None, description="When the job succeeded or failed.")
    latest_checkpoint: str | None = Field(
        None, max_length=4096, description="The latest complete checkpoint."
    )
    output_location: str | None = Field(
        None, max_length=4096, description="Where the result is, e.g. pvc://claim/path; set on success."
    )
    progress: Progress | None = Field(None, description="Where training is.")


class FineTuneJob(Resource):
    """Fine-tunes a base model on Datasets with a LLaMA-Factory training config, on one node or many."""

    kind: Literal["FineTuneJob"] = Field("FineTuneJob", description="FineTuneJob.")
    spec: FineTuneJobSpec = Field(description="What to train, on what, with which settings and resources.")
    status: FineTuneJobStatus | None = Field(None, description="What the operator observed.")
