"""The server container's command: the same argument lists the runtime builds, never a shell.

- ``vllm``: ``vllm serve MODEL --served-model-name ... --tensor-parallel-size N [--enable-lora
  --lora-modules name=path ...]`` from :func:`kubefactory.runtime.launch.engines.vllm_command`;
- ``sglang``: ``python3 -m sglang.launch_server --model-path MODEL --tp-size N [--enable-lora
  --lora-paths name=path ...]`` from :func:`~kubefactory.runtime.launch.engines.sglang_command`;
- ``huggingface``: ``kubefactory api /kubefactory/config/serve.yaml``, the built-in server, with its
  config (model, adapters as ``name=path``, template) in the ModelServer's ConfigMap and its address
  in LLaMA-Factory's ``API_*`` variables.

``spec.engineArgs`` go last for the built-in server (``key=value`` overrides); for vLLM and SGLang
they pass through the runtime's ``vllm_config``/``sglang_config``, so a flag given there replaces
the default of the same flag instead of appearing twice. The API key never appears in the pod
spec: the container reads it from the Secret into a variable, which the kubelet substitutes into
``$(KUBEFACTORY_API_KEY)`` (Kubernetes' own expansion of command arguments; no shell involved).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubefactory.runtime.config import ConfigError, validate_config
from kubefactory.runtime.launch.engines import EngineTarget, sglang_command, vllm_command

from .layout import SERVE_CONFIG_FILE, SERVER_PORT
from .serving_inputs import ServingInputs

API_KEY_VARIABLE = "KUBEFACTORY_API_KEY"
SGLANG_PYTHON = "python3"  # the SGLang images have python3, not always python
# the gauge of requests being served, per engine: what a pods metric scales on
IN_FLIGHT_METRICS = {
    "huggingface": "kubefactory_requests_in_flight",
    "vllm": "vllm:num_requests_running",
    "sglang": "sglang:num_running_reqs",
}


class EngineArgsError(ValueError):
    """spec.engineArgs that cannot be passed on; the message names the entry."""


@dataclass(frozen=True)
class ServerAddress:
    """Where the engine listens and as what (the runtime's ``Listen``)."""

    host: str
    port: int
    api_key: str | None
    model_name: str


def engine_options(args: list[str]) -> dict[str, list[str] | bool]:
    """``["--max-model-len", "8192", "--enforce-eager", "--x=1"]`` → {"--max-model-len": ["8192"], ...}."""
    options: dict[str, list[str] | bool] = {}
    flag: str | None = None
    for index, item in enumerate(args):
        if item.startswith("--"):
            flag, sep, value = item.partition("=")
            options[flag] = [value] if sep else True
            if sep:
                flag = None
        elif item.startswith("-") and not item[1:2].isdigit():
            raise EngineArgsError(
                f"spec.engineArgs[{index}]: {item!r}: write flags in their long form (--name)"
            )
        elif flag is None:
            raise EngineArgsError(f"spec.engineArgs[{index}]: {item!r} follows no --flag")
        else:
            previous = options[flag]
            options[flag] = [*(previous if isinstance(previous, list) else []), item]
    return options


def serve_config(inputs: ServingInputs) -> dict[str, Any]:
    """The built-in engine's config (``kubefactory api`` reads LLaMA-Factory keys)."""
    config: dict[str, Any] = {"model_name_or_path": inputs.model.path, "infer_backend": "huggingface"}
    if inputs.adapters:
        config["adapter_name_or_path"] = ",".join(
            f"{name}={path}" for name, path in inputs.adapter_paths.items()
        )
    if inputs.template:
        config["template"] = inputs.template
    return config


def _address(inputs: ServingInputs) -> ServerAddress:
    key = f"$({API_KEY_VARIABLE})" if inputs.spec.api_key_secret_ref is not None else None
    return ServerAddress("0.0.0.0", SERVER_PORT, key, inputs.base_name)


def server_command(inputs: ServingInputs) -> list[str]:
    engine = inputs.spec.engine
    args = list(inputs.spec.engine_args or [])
    if engine == "huggingface":
        return ["kubefactory", "api", SERVE_CONFIG_FILE, *args]
    values = {
        "model_name_or_path": inputs.model.path,
        "infer_backend": engine,
        f"{engine}_config": engine_options(args),
    }
    try:
        config = validate_config(values, source="spec.engineArgs")
    except ConfigError as err:
        raise EngineArgsError(str(err)) from None
    target = EngineTarget(inputs.model.path, inputs.adapter_paths)
    if engine == "vllm":
        return vllm_command(config, _address(inputs), target, inputs.accelerators)
    return sglang_command(config, _address(inputs), target, inputs.accelerators, python=SGLANG_PYTHON)


def server_env(inputs: ServingInputs) -> list[dict[str, Any]]:
    """The API key from its Secret; for the built-in engine, its address in the API_* variables."""
    env: list[dict[str, Any]] = []
    ref = inputs.spec.api_key_secret_ref
    secret = {"valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}} if ref else None
    if inputs.spec.engine == "huggingface":
        env += [
            {"name": "API_HOST", "value": "0.0.0.0"},
            {"name": "API_PORT", "value": str(SERVER_PORT)},
            {"name": "API_MODEL_NAME", "value": inputs.base_name},
        ]
        if secret:
            env.append({"name": "API_KEY", **secret})
    elif secret:
        env.append({"name": API_KEY_VARIABLE, **secret})
    return env
