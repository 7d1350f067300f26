"""SGLang and vLLM commands built from a config: one table row per flag that matters."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.serve.launchers import (
    EngineTarget,
    engine_command,
    extra_options,
    serving_target,
    sglang_command,
    visible_accelerators,
    vllm_command,
)
from kubefactory.runtime.serve.settings import ApiSettings

SETTINGS = ApiSettings(host="0.0.0.0", port=8000, api_key=None, model_name="tiny")
BASE = EngineTarget("/models/base", {})
LORAS = EngineTarget("/models/base", {"identity": "/saves/identity", "sql": "/saves/sql"})


def _config(**values: Any) -> Any:
    return validate_config({"model_name_or_path": "/models/base", **values})


def _pairs(argv: list[str]) -> dict[str, list[str]]:
    """--flag value... → {flag: values}; a bare switch maps to []."""
    out: dict[str, list[str]] = {}
    flag = None
    for item in argv:
        if item.startswith("--"):
            flag = item
            out[flag] = []
        elif flag is not None:
            out[flag].append(item)
    return out


@pytest.mark.parametrize(
    ("values", "target", "visible", "settings", "expected"),
    [
        ({}, BASE, 4, SETTINGS, {"--model-path": ["/models/base"], "--tp-size": ["4"], "--context-length": ["4096"],
                                 "--mem-fraction-static": ["0.7"], "--host": ["0.0.0.0"], "--port": ["8000"],
                                 "--served-model-name": ["tiny"], "--dtype": ["auto"]}),
        ({"sglang_tp_size": 2, "sglang_maxlen": 8192, "sglang_mem_fraction": 0.85}, BASE, 8, SETTINGS,
         {"--tp-size": ["2"], "--context-length": ["8192"], "--mem-fraction-static": ["0.85"]}),
        ({}, BASE, None, SETTINGS, {"--tp-size": ["1"]}),
        ({}, LORAS, 1, SETTINGS, {"--enable-lora": [], "--lora-paths": ["identity=/saves/identity", "sql=/saves/sql"],
                                  "--lora-backend": ["triton"]}),
        ({"infer_dtype": "bfloat16", "trust_remote_code": True}, BASE, 1, SETTINGS,
         {"--dtype": ["bfloat16"], "--trust-remote-code": []}),
        ({}, BASE, 1, ApiSettings(host="127.0.0.1", port=30000, api_key="s3cret", model_name="m"),
         {"--host": ["127.0.0.1"], "--port": ["30000"], "--api-key": ["s3cret"], "--served-model-name": ["m"]}),
        ({"sglang_config": {"max_running_requests": 64, "enable_metrics": True, "context_length": 2048}}, BASE, 1,
         SETTINGS, {"--max-running-requests": ["64"], "--enable-metrics": [], "--context-length": ["2048"]}),
    ],
    ids=["defaults", "sizes", "no-accelerator-info", "lora", "dtype-remote-code", "host-port-key", "extra-config-wins"],
)  # fmt: skip
def test_sglang_command(
    values: dict[str, Any],
    target: EngineTarget,
    visible: int | None,
    settings: ApiSettings,
    expected: dict[str, list[str]],
) -> None:
    argv = sglang_command(_config(**values), settings, target, visible, python="python3")
    assert argv[:3] == ["python3", "-m", "sglang.launch_server"]
    flags = _pairs(argv)
    for flag, values_ in expected.items():
        assert flags.get(flag) == values_, (flag, argv)
    assert len([a for a in argv if a.startswith("--")]) == len(flags), "no flag may appear twice"
    if not target.adapters:
        assert "--lora-paths" not in flags and "--enable-lora" not in flags
    if settings.api_key is None:
        assert "--api-key" not in flags


@pytest.mark.parametrize(
    ("values", "target", "visible", "expected"),
    [
        ({}, BASE, 2, {"--tensor-parallel-size": ["2"], "--max-model-len": ["4096"], "--gpu-memory-utilization": ["0.7"],
                       "--served-model-name": ["tiny"], "--host": ["0.0.0.0"], "--port": ["8000"]}),
        ({"vllm_maxlen": 16384, "vllm_gpu_util": 0.9, "vllm_enforce_eager": True}, BASE, 1,
         {"--max-model-len": ["16384"], "--gpu-memory-utilization": ["0.9"], "--enforce-eager": []}),
        ({"vllm_max_lora_rank": 64}, LORAS, 1, {"--enable-lora": [], "--lora-modules": ["identity=/saves/identity", "sql=/saves/sql"],
                                              "--max-lora-rank": ["64"], "--max-loras": ["2"]}),
        ({"vllm_config": '{"max_num_seqs": 128, "enable_prefix_caching": false}'}, BASE, 1, {"--max-num-seqs": ["128"]}),
    ],
    ids=["defaults", "sizes-eager", "lora", "extra-config-json"],
)  # fmt: skip
def test_vllm_command(
    values: dict[str, Any], target: EngineTarget, visible: int | None, expected: dict[str, list[str]]
) -> None:
    argv = vllm_command(_config(**values), SETTINGS, target, visible)
    assert argv[:3] == ["vllm", "serve", "/models/base"]
    flags = _pairs(argv)
    for flag, values_ in expected.items():
        assert flags.get(flag) == values_, (flag, argv)
    assert "--enable-prefix-caching" not in flags
    assert "--enforce-eager" in flags or not values.get("vllm_enforce_eager")


@pytest.mark.parametrize(
    ("env", "count"),
    [
        ({}, None),
        ({"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, 4),
        ({"CUDA_VISIBLE_DEVICES": ""}, 0),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, 0),
        ({"HIP_VISIBLE_DEVICES": "0,1"}, 2),
        ({"ASCEND_RT_VISIBLE_DEVICES": "0, 1, 2"}, 3),
        ({"CUDA_VISIBLE_DEVICES": "5", "ASCEND_RT_VISIBLE_DEVICES": "0,1"}, 1),
    ],
)
def test_visible_accelerators(env: dict[str, str], count: int | None) -> None:
    assert visible_accelerators(env) == count


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {}),
        (
            {"a_b": 1, "flag": True, "off": False, "many": [1, "x"]},
            {"--a-b": ["1"], "--flag": True, "--off": False, "--many": ["1", "x"]},
        ),
        ('{"json_key": {"k": 1}}', {"--json-key": ['{"k": 1}']}),
    ],
)
def test_extra_options(value: Any, expected: dict[str, Any]) -> None:
    assert extra_options(value, "sglang_config") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", r"sglang_config: not valid JSON"),
        ("[1, 2]", r"sglang_config: expected a mapping of engine arguments, got list"),
    ],
)
def test_bad_extra_options_name_the_key(value: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        extra_options(value, "sglang_config")


def test_named_adapters_are_served_by_name() -> None:
    config = _config(adapter_name_or_path="identity=/saves/identity,sql=/saves/sql")
    assert serving_target(config, "vllm", export_complete=False) == LORAS


def test_merged_adapters_need_the_merged_export() -> None:
    config = _config(adapter_name_or_path="/saves/identity", export_dir="/exports/merged")
    with pytest.raises(
        UserError,
        match=r"adapter_name_or_path: sglang cannot merge adapters while loading.*kubefactory export",
    ):
        serving_target(config, "sglang", export_complete=False)
    assert serving_target(config, "sglang", export_complete=True) == EngineTarget("/exports/merged", {})


def test_engine_command_follows_infer_backend() -> None:
    assert engine_command(_config(infer_backend="vllm"), SETTINGS, 1, False)[:2] == ["vllm", "serve"]
    assert engine_command(_config(infer_backend="sglang"), SETTINGS, 1, False)[1:3] == [
        "-m",
        "sglang.launch_server",
    ]
    with pytest.raises(UserError, match="infer_backend: huggingface has no server command"):
        engine_command(_config(), SETTINGS, 1, False)
