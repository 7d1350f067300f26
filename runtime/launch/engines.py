"""The SGLang and vLLM server commands: pure functions from a config to an argument list.

Both sides use them: ``kubefactory api`` (infer_backend sglang/vllm) execs the command inside a
pod, and the operator renders the same command into a ModelServer's Deployment. So this module
stays light: the standard library and the runtime's errors only, no torch, no serving stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import UserError

if TYPE_CHECKING:
    from ..config import TrainConfig

Options = dict[str, list[str] | bool]  # --flag → values, or True for a bare switch


class Listen(Protocol):
    """Where and as what the server answers (``kubefactory.runtime.serve.settings.ApiSettings`` fits)."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def api_key(self) -> str | None: ...
    @property
    def model_name(self) -> str: ...


@dataclass(frozen=True)
class EngineTarget:
    """What the engine serves: a model folder and named LoRA adapters."""

    model_path: str
    adapters: dict[str, str]


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


def _common(config: TrainConfig, settings: Listen) -> Options:
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
    settings: Listen,
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
    config: TrainConfig, settings: Listen, target: EngineTarget, visible: int | None
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
