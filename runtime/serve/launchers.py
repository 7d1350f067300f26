"""SGLang and vLLM: their own OpenAI servers, started with a command built from the config.

The builders are pure (config, settings and the number of visible accelerators in, argv out) so
each flag is tested with a table; `exec_engine` is the only part with side effects.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..model.inference import AdapterPlan, plan_adapters

if TYPE_CHECKING:
    from ..config import TrainConfig
    from .settings import ApiSettings

# Accelerator visibility variables, most specific first (ARCHITECTURE.md's accelerator profiles).
_VISIBLE_DEVICE_VARIABLES = (
    "CUDA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "ASCEND_RT_VISIBLE_DEVICES",
)

Options = dict[str, list[str] | bool]  # --flag → values, or True for a bare switch


@dataclass(frozen=True)
class EngineTarget:
    """What the engine serves: a model folder and named LoRA adapters."""

    model_path: str
    adapters: dict[str, str]


def visible_accelerators(env: Mapping[str, str]) -> int | None:
    """How many devices the visibility variables allow; None when none is set (ask the driver)."""
    for name in _VISIBLE_DEVICE_VARIABLES:
        if name in env:
            return len([item for item in env[name].split(",") if item.strip() and item.strip() != "-1"])
    return None


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


def tensor_parallel_size(configured: int, visible: int | None) -> int:
    if configured > 0:
        return configured
    return max(visible or 1, 1)


def _dtype(config: TrainConfig) -> str:
    return "auto" if config.infer_dtype == "auto" else config.infer_dtype


def extra_options(value: dict[str, Any] | str | None, key: str) -> Options:
    """sglang_config / vllm_config: a mapping (or JSON text) of engine arguments → flags.
    true → a bare switch, false → left out, a list → several values."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise UserError(
                f'{key}: not valid JSON ({err}); write a mapping such as {{"max_running_requests": 64}}'
            ) from None
    if not isinstance(value, dict):
        raise UserError(f"{key}: expected a mapping of engine arguments, got {type(value).__name__}")
    options: Options = {}
    for name, item in value.items():
        flag = "--" + str(name).lstrip("-").replace("_", "-")
        if item is True:
            options[flag] = True
        elif item is False or item is None:
            options[flag] = False
        elif isinstance(item, list | tuple):
            options[flag] = [str(v) for v in item]
        elif isinstance(item, dict):
            options[flag] = [json.dumps(item)]
        else:
            options[flag] = [str(item)]
    return options


def _render(head: list[str], options: Options) -> list[str]:
    argv = list(head)
    for flag, values in options.items():
        if values is True:
            argv.append(flag)
        elif values:  # False and [] leave the flag out
            argv += [flag, *values]
    return argv


def _common(config: TrainConfig, settings: ApiSettings) -> Options:
    options: Options = {
        "--host": [settings.host],
        "--port": [str(settings.port)],
        "--served-model-name": [settings.model_name],
        "--dtype": [_dtype(config)],
    }
    if config.trust_remote_code:
        options["--trust-remote-code"] = True
    if settings.api_key:
        options["--api-key"] = [settings.api_key]
    return options


def sglang_command(
    config: TrainConfig,
    settings: ApiSettings,
    target: EngineTarget,
    visible: int | None,
    python: str = "python",
) -> list[str]:
    options: Options = {
        "--model-path": [target.model_path],
        **_common(config, settings),
        "--tp-size": [str(tensor_parallel_size(config.sglang_tp_size, visible))],
        "--context-length": [str(config.sglang_maxlen)],
        "--mem-fraction-static": [str(config.sglang_mem_fraction)],
    }
    if target.adapters:
        options["--enable-lora"] = True
        options["--lora-paths"] = [f"{name}={path}" for name, path in target.adapters.items()]
        options["--lora-backend"] = [config.sglang_lora_backend]
    options.update(extra_options(config.sglang_config, "sglang_config"))
    return _render([python, "-m", "sglang.launch_server"], options)


def vllm_command(
    config: TrainConfig, settings: ApiSettings, target: EngineTarget, visible: int | None
) -> list[str]:
    options: Options = {
        **_common(config, settings),
        "--tensor-parallel-size": [str(tensor_parallel_size(-1, visible))],
        "--max-model-len": [str(config.vllm_maxlen)],
        "--gpu-memory-utilization": [str(config.vllm_gpu_util)],
    }
    if config.vllm_enforce_eager:
        options["--enforce-eager"] = True
    if target.adapters:
        options["--enable-lora"] = True
        options["--lora-modules"] = [f"{name}={path}" for name, path in target.adapters.items()]
        options["--max-lora-rank"] = [str(config.vllm_max_lora_rank)]
        options["--max-loras"] = [str(len(target.adapters))]
    options.update(extra_options(config.vllm_config, "vllm_config"))
    return _render(["vllm", "serve", target.model_path], options)


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
