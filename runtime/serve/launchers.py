"""SGLang and vLLM: their own OpenAI servers, started with a command built from the config.

The argv builders are pure and live in :mod:`kubefactory.runtime.launch.engines` (the operator
renders the same commands into ModelServer Deployments); this module adds what only a running
`kubefactory api` needs: which adapters to serve, how many devices are visible, and the exec.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..contract.accelerators import visibility_variables, visible_count
from ..errors import UserError
from ..launch.engines import (
    EngineTarget,
    Options,
    extra_options,
    sglang_command,
    tensor_parallel_size,
    vllm_command,
)
from ..model.inference import AdapterPlan, plan_adapters

if TYPE_CHECKING:
    from ..config import TrainConfig
    from .settings import ApiSettings

__all__ = [
    "EngineTarget",
    "Options",
    "engine_command",
    "exec_engine",
    "extra_options",
    "serving_target",
    "sglang_command",
    "tensor_parallel_size",
    "visible_accelerators",
    "vllm_command",
]


def visible_accelerators(env: Mapping[str, str]) -> int | None:
    """How many devices the visibility variables allow; None when none is set (ask the driver).

    The variables are the accelerator table's (CUDA, HIP, ROCR, Ascend), most specific first."""
    return visible_count(visibility_variables(), env)


def serving_target(config: TrainConfig, engine: str, export_complete: bool) -> EngineTarget:
    """SGLang and vLLM apply LoRA adapters per request, by name; adapters that a config merges into
    the base must come as a merged export (`kubefactory export`) instead."""
    if not config.model_name_or_path:
        raise UserError("model_name_or_path: required; give the base model (or a merged export) to serve")
    plan: AdapterPlan = plan_adapters(config.adapter_name_or_path)
    if not plan.merged:
        return EngineTarget(config.model_name_or_path, plan.named)
    if config.export_dir and export_complete:
        return EngineTarget(config.export_dir, plan.named)
    raise UserError(
        f"adapter_name_or_path: {engine} cannot merge adapters while loading; either serve them by name "
        f"(adapter_name_or_path: name=path, selected by the request's model field), or run "
        f"`kubefactory export` with export_dir set and serve that folder (it is used automatically once complete)"
    )


def engine_command(
    config: TrainConfig, settings: ApiSettings, visible: int | None, export_complete: bool
) -> list[str]:
    """The command for infer_backend sglang or vllm, given the accelerators this process sees."""
    engine = config.infer_backend
    target = serving_target(config, engine, export_complete)
    if engine == "sglang":
        return sglang_command(config, settings, target, visible, python=sys.executable)
    if engine == "vllm":
        return vllm_command(config, settings, target, visible)
    raise UserError(f"infer_backend: {engine} has no server command; use huggingface, sglang or vllm")


def exec_engine(argv: list[str]) -> None:
    """Replace this process with the engine's server (its signals and exit code become the pod's)."""
    import importlib.util

    if argv[1:3] == ["-m", "sglang.launch_server"] and importlib.util.find_spec("sglang") is None:
        raise UserError(
            "infer_backend: sglang is not installed in this environment; install sglang or use huggingface"
        )
    if argv[0] == "vllm" and shutil.which("vllm") is None:
        raise UserError("infer_backend: vllm is not installed in this environment (no `vllm` on PATH)")
    sys.stdout.flush()
    os.execvp(argv[0], argv)
