"""Keys of older transformers releases that LLaMA-Factory YAMLs still carry.

LLaMA-Factory 0.9.5 runs on transformers 4.55–5.6; this runtime on newer releases that renamed or
dropped some training arguments. A YAML that worked there must work here: renamed keys are
translated, keys with no effect any more are dropped with a warning. Nothing is dropped silently.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def _rename(new: str) -> Callable[[Any], dict[str, Any]]:
    return lambda value: {new: value}


def _group_by_length(value: Any) -> dict[str, Any]:
    return {"train_sampling_strategy": "group_by_length"} if value else {}


def _no_cuda(value: Any) -> dict[str, Any]:
    return {"use_cpu": bool(value)}


RENAMED: dict[str, Callable[[Any], dict[str, Any]]] = {
    "warmup_ratio": _rename("warmup_steps"),  # a float below 1 in warmup_steps is a ratio
    "evaluation_strategy": _rename("eval_strategy"),
    "include_inputs_for_metrics": _rename("include_for_metrics"),
    "group_by_length": _group_by_length,
    "no_cuda": _no_cuda,
}

DROPPED = {
    "logging_dir": "logs go to output_dir and report_to integrations",
    "save_safetensors": "checkpoints are always safetensors",
    "include_tokens_per_second": "tokens per second are always in trainer_log.jsonl",
    "ray_scope": "KubeFactory launches with torchrun, not Ray Tune",
    "tpu_num_cores": "TPUs are not supported",
    "jit_mode_eval": "removed from transformers",
    "half_precision_backend": "removed from transformers",
    "split_batches": "use accelerator_config",
    "dispatch_batches": "use accelerator_config",
    "mp_parameters": "removed from transformers",
    "torchdynamo": "use torch_compile_backend",
    "past_index": "removed from transformers",
    "fp16_opt_level": "apex is not used",
    "fp16_backend": "removed from transformers",
    "use_mps_device": "MPS is chosen automatically",
}


@functools.cache
def _once(level: int, message: str) -> None:
    """Say each translation once per process: the operator validates a job's config on every
    reconcile, and the same line every few seconds would bury its log."""
    log.log(level, message)


def translate_legacy_keys(values: dict[str, Any]) -> dict[str, Any]:
    """Return a copy with legacy keys translated; a key set both ways keeps the explicit new one."""
    out = {key: value for key, value in values.items() if key not in RENAMED and key not in DROPPED}
    for key, value in values.items():
        if key in RENAMED:
            for new, new_value in RENAMED[key](value).items():
                if new in values:
                    _once(logging.WARNING, f"{key} and {new} are both set; using {new}")
                    continue
                _once(logging.INFO, f"translated legacy key {key}: {value!r} → {new}: {new_value!r}")
                out[new] = new_value
        elif key in DROPPED:
            _once(logging.WARNING, f"ignoring {key}: {DROPPED[key]}")
    return out
