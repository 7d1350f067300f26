"""The server command, engine by engine and vendor by vendor, as each engine documents its flags.

vLLM (``vllm serve --help``): the model is the positional argument; ``--host``, ``--port``,
``--served-model-name``, ``--api-key``, ``--tensor-parallel-size``, and for multi-LoRA
``--enable-lora --lora-modules name=path ... --max-lora-rank --max-loras``.
SGLang (``python -m sglang.launch_server --help``): ``--model-path``, ``--host``, ``--port``,
``--served-model-name``, ``--api-key``, ``--tp-size``, and ``--enable-lora --lora-paths name=path ...``.
The built-in engine: ``kubefactory api CONFIG`` with LLaMA-Factory's API_* variables.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kubefactory.operator.builders.server_command import (
    API_KEY_VARIABLE,
    EngineArgsError,
    engine_options,
    serve_config,
    server_command,
    server_env,
)
from kubefactory.runtime.config import validate_config

LORA = (("identity", "pvc://identity-lora-output/identity-lora"), ("faq", "hf://org/faq-lora"))
VLLM_DEFAULTS = ["--dtype", "auto"]  # the runtime's infer_dtype default, as `kubefactory api` passes it


@pytest.mark.parametrize(
    ("engine", "vendor", "accelerators", "adapters", "expected"),
    [
        ("vllm", "nvidia", 8, (), [
            "vllm", "serve", "Qwen/Qwen2.5-0.5B", "--host", "0.0.0.0", "--port", "8000",
            "--served-model-name", "chat", *VLLM_DEFAULTS, "--tensor-parallel-size", "8",
            "--max-model-len", "4096", "--gpu-memory-utilization", "0.7"]),
        ("vllm", "amd", 2, LORA, [
            "vllm", "serve", "Qwen/Qwen2.5-0.5B", "--host", "0.0.0.0", "--port", "8000",
            "--served-model-name", "chat", *VLLM_DEFAULTS, "--tensor-parallel-size", "2",
            "--max-model-len", "4096", "--gpu-memory-utilization", "0.7", "--enable-lora", "--lora-modules",
            "identity=/kubefactory/claims/identity-lora-output/identity-lora", "faq=org/faq-lora",
            "--max-lora-rank", "32", "--max-loras", "2"]),
        ("vllm", "ascend", 1, (), [
            "vllm", "serve", "Qwen/Qwen2.5-0.5B", "--host", "0.0.0.0", "--port", "8000",
            "--served-model-name", "chat", *VLLM_DEFAULTS, "--tensor-parallel-size", "1",
            "--max-model-len", "4096", "--gpu-memory-utilization", "0.7"]),
        ("vllm", "cpu", 4, (), [  # a CPU replica has no devices: one process, whatever spec says
            "vllm", "serve", "Qwen/Qwen2.5-0.5B", "--host", "0.0.0.0", "--port", "8000",
            "--served-model-name", "chat", *VLLM_DEFAULTS, "--tensor-parallel-size", "1",
            "--max-model-len", "4096", "--gpu-memory-utilization", "0.7"]),
        ("sglang", "nvidia", 4, (), [
            "python3", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen2.5-0.5B", "--host", "0.0.0.0",
            "--port", "8000", "--served-model-name", "chat", "--dtype", "auto", "--tp-size", "4",
            "--context-length", "4096", "--mem-fraction-static", "0.7"]),
        ("sglang", "amd", 2, LORA, [
            "python3", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen2.5-0.5B", "--host", "0.0.0.0",
            "--port", "8000", "--served-model-name", "chat", "--dtype", "auto", "--tp-size", "2",
            "--context-length", "4096", "--mem-fraction-static", "0.7", "--enable-lora", "--lora-paths",
            "identity=/kubefactory/claims/identity-lora-output/identity-lora", "faq=org/faq-lora",
            "--lora-backend", "triton"]),
        ("sglang", "ascend", 8, (), [
            "python3", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen2.5-0.5B", "--host", "0.0.0.0",
            "--port", "8000", "--served-model-name", "chat", "--dtype", "auto", "--tp-size", "8",
            "--context-length", "4096", "--mem-fraction-static", "0.7"]),
        ("huggingface", "nvidia", 1, LORA, ["kubefactory", "api", "/kubefactory/config/serve.yaml"]),
        ("huggingface", "cpu", 1, (), ["kubefactory", "api", "/kubefactory/config/serve.yaml"]),
    ],
    ids=["vllm-nvidia-tp8", "vllm-amd-lora", "vllm-ascend", "vllm-cpu", "sglang-nvidia-tp4", "sglang-amd-lora",
         "sglang-ascend-tp8", "huggingface-nvidia", "huggingface-cpu"],
)  # fmt: skip
def test_command_per_engine_and_vendor(
    make_serving: Any,
    engine: str,
    vendor: str,
    accelerators: int,
    adapters: tuple[tuple[str, str], ...],
    expected: list[str],
) -> None:
    inputs = make_serving(
        {"engine": engine, "resources": {"accelerator": vendor, "accelerators": accelerators}},
        adapters=adapters,
    )
    assert server_command(inputs) == expected


def test_pvc_models_are_read_from_their_mounted_claim(make_serving: Any) -> None:
    inputs = make_serving({"engine": "vllm"}, model_uri="pvc://models/qwen/2.5")
    assert server_command(inputs)[:3] == ["vllm", "serve", "/kubefactory/claims/models/qwen/2.5"]


@pytest.mark.parametrize(
    ("engine", "args", "present", "absent"),
    [
        ("vllm", ["--max-model-len", "8192", "--enforce-eager"], ["--max-model-len", "8192", "--enforce-eager"],
         ["4096"]),
        ("vllm", ["--max-model-len=16384"], ["--max-model-len", "16384"], ["4096"]),
        ("sglang", ["--tp-size", "2", "--enable-metrics"], ["--tp-size", "2", "--enable-metrics"], []),
        ("huggingface", ["infer_dtype=float32", "template=qwen"], ["infer_dtype=float32", "template=qwen"], []),
    ],
    ids=["vllm-replaces-default", "vllm-equals-form", "sglang-replaces-tp", "builtin-overrides-last"],
)  # fmt: skip
def test_engine_args_replace_defaults_and_never_repeat_a_flag(
    make_serving: Any, engine: str, args: list[str], present: list[str], absent: list[str]
) -> None:
    command = server_command(make_serving({"engine": engine, "engineArgs": args}))
    for item in present:
        assert item in command
    for item in absent:
        assert item not in command
    flags = [item for item in command if item.startswith("--")]
    assert len(flags) == len(set(flags)), command
    if engine == "huggingface":
        assert command[-len(args) :] == args


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--a", "1", "--b", "--c", "x", "y"], {"--a": ["1"], "--b": True, "--c": ["x", "y"]}),
        (["--a=1", "--n", "-1"], {"--a": ["1"], "--n": ["-1"]}),
        ([], {}),
    ],
)
def test_engine_options(args: list[str], expected: dict[str, Any]) -> None:
    assert engine_options(args) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["8192"], "spec.engineArgs[0]: '8192' follows no --flag"),
        (["-tp", "2"], "spec.engineArgs[0]: '-tp': write flags in their long form"),
        (["--a=1", "2"], "spec.engineArgs[1]: '2' follows no --flag"),
    ],
)
def test_engine_options_name_the_bad_entry(args: list[str], message: str) -> None:
    with pytest.raises(EngineArgsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        engine_options(args)


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_api_key_comes_from_the_secret_by_kubelet_substitution(make_serving: Any, engine: str) -> None:
    inputs = make_serving({"engine": engine, "apiKeySecretRef": {"name": "chat-key", "key": "token"}})
    command = server_command(inputs)
    assert command[command.index("--api-key") + 1] == f"$({API_KEY_VARIABLE})"
    assert server_env(inputs) == [
        {"name": API_KEY_VARIABLE, "valueFrom": {"secretKeyRef": {"name": "chat-key", "key": "token"}}}
    ]


def test_builtin_engine_reads_its_address_and_key_from_api_variables(make_serving: Any) -> None:
    inputs = make_serving({"engine": "huggingface", "apiKeySecretRef": {"name": "chat-key", "key": "token"}})
    assert server_env(inputs) == [
        {"name": "API_HOST", "value": "0.0.0.0"},
        {"name": "API_PORT", "value": "8000"},
        {"name": "API_MODEL_NAME", "value": "chat"},
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "chat-key", "key": "token"}}},
    ]
    assert "--api-key" not in server_command(inputs)


def test_no_key_no_flag(make_serving: Any) -> None:
    inputs = make_serving({"engine": "vllm"})
    assert "--api-key" not in server_command(inputs) and server_env(inputs) == []


def test_serve_config_is_a_valid_runtime_config(make_serving: Any) -> None:
    inputs = make_serving(
        {"engine": "huggingface"}, adapters=LORA, template="qwen", model_uri="pvc://models/tiny"
    )
    config = serve_config(inputs)
    assert config == {
        "model_name_or_path": "/kubefactory/claims/models/tiny",
        "adapter_name_or_path": "identity=/kubefactory/claims/identity-lora-output/identity-lora,faq=org/faq-lora",
        "template": "qwen",
        "infer_backend": "huggingface",
    }
    loaded = validate_config(yaml.safe_load(yaml.safe_dump(config)))
    assert loaded.model_name_or_path == "/kubefactory/claims/models/tiny"
