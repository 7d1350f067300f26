"""DeepSpeed and FSDP settings: shipped ZeRO configs by name, checks that fail with a clear message.

The shipped configs are LLaMA-Factory's `examples/deepspeed/ds_z{0,2,3}[_offload]_config.json`
(the same values; "auto" lets the Trainer fill in batch sizes, precision and clipping). They are
data here so that `deepspeed: ds_z3` works in any image; examples/deepspeed/ holds the same
files for users to copy (a test keeps them identical).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from ..errors import UserError

_COMMON: dict[str, Any] = {
    "train_batch_size": "auto",
    "train_micro_batch_size_per_gpu": "auto",
    "gradient_accumulation_steps": "auto",
    "gradient_clipping": "auto",
    "zero_allow_untested_optimizer": True,
    "fp16": {
        "enabled": "auto",
        "loss_scale": 0,
        "loss_scale_window": 1000,
        "initial_scale_power": 16,
        "hysteresis": 2,
        "min_loss_scale": 1,
    },
    "bf16": {"enabled": "auto"},
}
_ZERO_0_2: dict[str, Any] = {
    "allgather_partitions": True,
    "allgather_bucket_size": 5e8,
    "overlap_comm": False,
    "reduce_scatter": True,
    "reduce_bucket_size": 5e8,
    "contiguous_gradients": True,
    "round_robin_gradients": True,
}
_ZERO_3: dict[str, Any] = {
    "overlap_comm": False,
    "contiguous_gradients": True,
    "sub_group_size": 1e9,
    "reduce_bucket_size": "auto",
    "stage3_prefetch_bucket_size": "auto",
    "stage3_param_persistence_threshold": "auto",
    "stage3_max_live_parameters": 1e9,
    "stage3_max_reuse_distance": 1e9,
    "stage3_gather_16bit_weights_on_model_save": True,
}
_OFFLOAD = {"device": "cpu", "pin_memory": True}


def _config(stage: int, offload_optimizer: bool = False, offload_param: bool = False) -> dict[str, Any]:
    zero: dict[str, Any] = {"stage": stage, **(_ZERO_3 if stage == 3 else _ZERO_0_2)}
    if offload_optimizer:
        zero["offload_optimizer"] = dict(_OFFLOAD)
    if offload_param:
        zero["offload_param"] = dict(_OFFLOAD)
    return {**json.loads(json.dumps(_COMMON)), "zero_optimization": zero}


# name (as in `deepspeed: ds_z3`) → config; the example files are f"{name}_config.json"
DEEPSPEED_CONFIGS: dict[str, dict[str, Any]] = {
    "ds_z0": _config(0),
    "ds_z2": _config(2),
    "ds_z2_offload": _config(2, offload_optimizer=True),
    "ds_z3": _config(3),
    "ds_z3_offload": _config(3, offload_optimizer=True, offload_param=True),
}


def resolve_deepspeed(value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    """A shipped name (ds_z3, ds_z3_config, ds_z3_config.json) → its config; a path must exist."""
    if value is None or isinstance(value, dict):
        return value
    name = Path(value).name.removesuffix(".json").removesuffix("_config")
    if not Path(value).is_file():
        if name in DEEPSPEED_CONFIGS:
            return DEEPSPEED_CONFIGS[name]
        shipped = ", ".join(DEEPSPEED_CONFIGS)
        raise UserError(f"deepspeed: {value} is neither a file nor a shipped config; shipped: {shipped}")
    return str(value)


def check_parallelism(deepspeed: Any, fsdp: Any) -> None:
    """DeepSpeed is an optional extra; DeepSpeed and FSDP exclude each other."""
    if deepspeed and fsdp:
        raise UserError("deepspeed and fsdp: both are set; choose one way to shard the model")
    if deepspeed and importlib.util.find_spec("deepspeed") is None:
        raise UserError(
            "deepspeed: the deepspeed package is not installed; install the extra "
            "(pip install 'kubefactory[deepspeed]') or remove the deepspeed key"
        )


def zero_stage(deepspeed: str | dict[str, Any] | None) -> int | None:
    """The ZeRO stage of a resolved DeepSpeed config (None without DeepSpeed)."""
    if deepspeed is None:
        return None
    data = (
        deepspeed if isinstance(deepspeed, dict) else json.loads(Path(deepspeed).read_text(encoding="utf-8"))
    )
    return int(data.get("zero_optimization", {}).get("stage", 0))
