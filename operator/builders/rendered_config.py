"""The runtime config of a FineTuneJob: spec.training plus the keys the FineTuneJob owns.

``config.yaml`` is what ``kubefactory train`` reads in every training pod; ``dataset_info.json``
points each Dataset name at its prepared copy; ``deepspeed.json`` is written from
spec.distributed.deepspeed. All three go into one ConfigMap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from ..api.dataset import DatasetSpec
from ..api.finetunejob import Distributed, FineTuneJobSpec
from ..naming import Owner, dns_label
from .info_entries import prepared_entry
from .layout import CONFIG_DIR, DATASET_INFO_FILE, DATASETS_DIR, DEEPSPEED_FILE, MODEL_DIR, OUTPUT_DIR


@dataclass(frozen=True)
class PreparedDataset:
    """A Ready Dataset: its name, the claim and folder of its prepared data, and how to read it."""

    name: str
    claim: str
    folder: str  # inside the claim
    spec: DatasetSpec

    @property
    def volume(self) -> str:
        return dns_label(f"dataset-{self.name}")

    @property
    def mount_path(self) -> str:
        return f"{DATASETS_DIR}/{self.name}"


@dataclass(frozen=True)
class ModelSource:
    """How the pods reach the base model: a name for the runtime, and a claim to mount if any."""

    name_or_path: str
    claim: str | None = None


def model_source(uri: str) -> ModelSource:
    """``hf://org/name`` → org/name; ``pvc://claim/dir`` → the claim mounted at /kubefactory/model."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return ModelSource(uri)
    if scheme == "hf":
        return ModelSource(rest)
    if scheme == "pvc":
        claim, _, path = rest.partition("/")
        return ModelSource(f"{MODEL_DIR}/{path}".rstrip("/"), claim)
    return ModelSource(uri)  # s3:// and gs:// are fetched by the runtime


def deepspeed_config(distributed: Distributed) -> dict[str, Any] | None:
    """DeepSpeed's JSON config; "auto" values are filled in by the trainer from the training keys."""
    if distributed.strategy != "deepspeed":
        return None
    settings = distributed.deepspeed
    stage = settings.zero_stage if settings else 2
    zero: dict[str, Any] = {"stage": stage, "overlap_comm": False, "contiguous_gradients": True}
    if settings and settings.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if settings and settings.offload_parameters:
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    if stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "zero_allow_untested_optimizer": True,
        "fp16": {"enabled": "auto", "loss_scale": 0, "loss_scale_window": 1000, "initial_scale_power": 16},
        "bf16": {"enabled": "auto"},
        "zero_optimization": zero,
    }


def _fsdp_keys(distributed: Distributed) -> dict[str, Any]:
    if distributed.strategy != "fsdp":
        return {}
    fsdp = distributed.fsdp
    words = [fsdp.sharding_strategy if fsdp else "full_shard", "auto_wrap"]
    if fsdp and fsdp.offload:
        words.append("offload")
    return {"fsdp": " ".join(words), "fsdp_config": {"version": fsdp.version if fsdp else 2}}


def training_config(
    spec: FineTuneJobSpec,
    datasets: list[PreparedDataset],
    eval_datasets: list[PreparedDataset],
    resume_from: str | None,
) -> dict[str, Any]:
    """spec.training with the owned keys set: model, datasets, folders, distribution and resumption."""
    config: dict[str, Any] = dict(spec.training)
    config["model_name_or_path"] = model_source(spec.model).name_or_path
    config["dataset"] = ",".join(dataset.name for dataset in datasets)
    if eval_datasets:
        config["eval_dataset"] = ",".join(dataset.name for dataset in eval_datasets)
    config["dataset_dir"] = CONFIG_DIR
    config["output_dir"] = OUTPUT_DIR
    if spec.distributed.strategy == "deepspeed":
        config["deepspeed"] = f"{CONFIG_DIR}/{DEEPSPEED_FILE}"
    config.update(_fsdp_keys(spec.distributed))
    if not spec.checkpointing.resume:
        config["overwrite_output_dir"] = True
    if resume_from:
        config["resume_from_checkpoint"] = resume_from
    return config


def dataset_info(datasets: list[PreparedDataset]) -> dict[str, Any]:
    return {
        dataset.name: prepared_entry(dataset.spec, f"{dataset.mount_path}/{dataset.folder}")
        for dataset in datasets
    }


def config_map(
    owner: Owner,
    name: str,
    spec: FineTuneJobSpec,
    datasets: list[PreparedDataset],
    eval_datasets: list[PreparedDataset],
    resume_from: str | None,
) -> dict[str, Any]:
    data = {
        "config.yaml": yaml.safe_dump(
            training_config(spec, datasets, eval_datasets, resume_from), sort_keys=True
        ),
        DATASET_INFO_FILE: json.dumps(dataset_info([*datasets, *eval_datasets]), indent=2, sort_keys=True),
    }
    if (deepspeed := deepspeed_config(spec.distributed)) is not None:
        data[DEEPSPEED_FILE] = json.dumps(deepspeed, indent=2, sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": owner.metadata(name, "config"),
        "data": data,
    }
