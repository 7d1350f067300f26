"""``FineTuneJob.spec.training``: LLaMA-Factory training keys, verbatim, judged by the runtime.

The block is kept as the user wrote it (a plain mapping, snake_case keys) and validated by
``kubefactory.runtime.config``; its CRD schema lists every key the runtime knows, with its type
and description, so ``kubectl explain finetunejob.spec.training.lora_rank`` documents it and the
API server rejects misspelt keys and wrong types.
"""

from __future__ import annotations

from typing import Annotated, Any

from kubefactory.runtime.config import ConfigError, TrainConfig, validate_config
from kubefactory.runtime.config.legacy import DROPPED, RENAMED
from pydantic import AfterValidator, WithJsonSchema

from .common import CelRule, field_errors

# Keys a pasted LLaMA-Factory YAML carries that the FineTuneJob says elsewhere, Kubernetes-style.
OWNED_KEYS: dict[str, str] = {
    "model_name_or_path": "spec.model",
    "dataset": "spec.datasets",
    "eval_dataset": "spec.evalDatasets",
    "dataset_dir": "spec.datasets",
    "output_dir": "spec.output",
    "deepspeed": "spec.distributed.deepspeed",
    "fsdp": "spec.distributed.fsdp",
    "fsdp_config": "spec.distributed.fsdp",
}

# Renamed legacy keys the runtime still accepts (kubefactory.runtime.config.legacy): the key each
# becomes, and its type as users write it (None: the same schema as the key it becomes).
LEGACY: dict[str, tuple[str, dict[str, Any] | None]] = {
    "warmup_ratio": ("warmup_steps", {"type": "number"}),
    "evaluation_strategy": ("eval_strategy", None),
    "include_inputs_for_metrics": ("include_for_metrics", {"type": "boolean"}),
    "group_by_length": ("train_sampling_strategy", {"type": "boolean"}),
    "no_cuda": ("use_cpu", {"type": "boolean"}),
}
MAX_KEYS = 512  # bounds the cost of the immutability rule (self == oldSelf) on this block


def check_training(values: dict[str, Any]) -> dict[str, Any]:
    """Validate with the runtime's TrainConfig; every problem is reported with its key as the path."""
    problems = [((key,), owned_message(key), values[key]) for key in OWNED_KEYS if key in values]
    try:
        validate_config({k: v for k, v in values.items() if k not in OWNED_KEYS}, source="spec.training")
    except ConfigError as err:
        problems += [((issue.field,), issue.message, values.get(issue.field)) for issue in err.issues]
    if problems:
        raise field_errors("training", problems)
    return values


def owned_message(key: str) -> str:
    return f"set by KubeFactory from {OWNED_KEYS[key]}; remove {key} from spec.training"


def owned_key_rules() -> list[CelRule]:
    """The API server's twin of the owned-key check in :func:`check_training`."""
    return [
        CelRule(f"!has(self.{key})", owned_message(key), f".{key}", "FieldValueForbidden")
        for key in OWNED_KEYS
    ]


def _key_schema(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    """One key's JSON schema; the default moves into the description (the CRD defaults nothing here)."""
    out = {k: v for k, v in schema.items() if k not in ("title", "default")}
    if key in OWNED_KEYS:
        # typed (as LLaMA-Factory YAMLs write them) so that the CEL rule forbidding them can name them
        return {
            "type": "string",
            "description": f"Not allowed here: KubeFactory sets it from {OWNED_KEYS[key]}.",
        }
    if "default" in schema and schema["default"] is not None:
        out["description"] = f"{schema['description'].rstrip()} Default: {_show(schema['default'])}."
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) and not value else str(value)


def _legacy_schema(key: str, known: dict[str, Any]) -> dict[str, Any]:
    if key in DROPPED:
        text = f"Legacy key, accepted and ignored: {DROPPED[key]}."
        return {"description": text, "x-kubernetes-preserve-unknown-fields": True}
    target, typed = LEGACY[key]
    schema = typed if typed is not None else {k: v for k, v in known[target].items() if k != "description"}
    return {**schema, "description": f"Legacy key of older transformers releases; becomes {target}."}


def training_json_schema() -> dict[str, Any]:
    """JSON schema of the block: every TrainConfig key, then the legacy keys, plus the owned-key rules."""
    known = {
        key: _key_schema(key, schema) for key, schema in TrainConfig.model_json_schema()["properties"].items()
    }
    legacy = {key: _legacy_schema(key, known) for key in sorted({*RENAMED, *DROPPED})}
    return {
        "type": "object",
        "properties": known | legacy,
        "maxProperties": MAX_KEYS,
        "x-kubernetes-validations": [rule.to_schema() for rule in owned_key_rules()],
    }


Training = Annotated[dict[str, Any], AfterValidator(check_training), WithJsonSchema(training_json_schema())]
