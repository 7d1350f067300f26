"""Loading decisions: attention kernel, RoPE scaling, quantization — and their errors on this CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.model.loader import (
    ModelLoadError,
    attention_implementation,
    check_liger,
    quantization_settings,
    rope_parameters,
)


def _config(**values: Any) -> Any:
    return validate_config({"model_name_or_path": "m", **values})


@pytest.mark.parametrize(
    ("flash_attn", "installed", "expected"),
    [("auto", False, None), ("disabled", False, "eager"), ("sdpa", False, "sdpa"), ("fa2", True, "flash_attention_2"),
     ("fa3", True, "flash_attention_3")],
)  # fmt: skip
def test_attention_implementation(flash_attn: str, installed: bool, expected: str | None) -> None:
    assert attention_implementation(flash_attn, installed) == expected


def test_flash_attention_without_the_package_says_what_to_do() -> None:
    with pytest.raises(
        ModelLoadError, match="flash_attn: fa2 needs the flash_attn package.*use flash_attn: sdpa"
    ):
        attention_implementation("fa2", installed=False)


@pytest.mark.parametrize(
    ("current", "max_positions", "kind", "cutoff", "expected"),
    [
        ({"rope_theta": 1e4, "rope_type": "default"}, 4096, None, 8192, None),  # not asked for
        ({"rope_theta": 1e4, "rope_type": "default"}, 4096, "linear", 2048, None),  # fits: no scaling
        ({"rope_theta": 1e4, "rope_type": "default"}, 4096, "linear", 8192,
         ({"rope_theta": 1e4, "rope_type": "linear", "factor": 2.0}, 8192)),
        ({"rope_theta": 1e4}, 4096, "dynamic", 10000,
         ({"rope_theta": 1e4, "rope_type": "dynamic", "factor": 3.0, "original_max_position_embeddings": 4096}, 12288)),
        ({"rope_theta": 5e5}, 8192, "llama3", 32768,
         ({"rope_theta": 5e5, "rope_type": "llama3", "factor": 4.0, "original_max_position_embeddings": 8192,
           "low_freq_factor": 1.0, "high_freq_factor": 4.0}, 32768)),
        ({"rope_theta": 1e6, "rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}, 131072,
         "yarn", 65536,
         ({"rope_theta": 1e6, "rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 32768}, 65536)),
    ],
)  # fmt: skip
def test_rope_parameters(
    current: dict[str, Any], max_positions: int, kind: str | None, cutoff: int, expected: Any
) -> None:
    assert rope_parameters(current, max_positions, kind, cutoff) == expected


def test_rope_scaling_reaches_the_loaded_model(tiny_model: Path, tiny_tokenizer: Any) -> None:
    from kubefactory.runtime.model.loader import load_model

    plain = load_model(_config(model_name_or_path=str(tiny_model)), tiny_tokenizer)
    scaled = load_model(
        _config(model_name_or_path=str(tiny_model), rope_scaling="linear", cutoff_len=8192), tiny_tokenizer
    )
    assert scaled.config.max_position_embeddings == 2 * plain.config.max_position_embeddings
    inv_plain = plain.model.rotary_emb.inv_freq
    inv_scaled = scaled.model.rotary_emb.inv_freq
    assert inv_scaled.allclose(inv_plain / 2)  # linear scaling stretches every frequency by the factor


@pytest.mark.parametrize(
    ("values", "vendor", "bnb", "expected"),
    [
        ({}, "cpu", False, None),
        ({"quantization_bit": 8}, "nvidia", True, {"load_in_8bit": True}),
        ({"quantization_bit": 4, "quantization_type": "fp4", "double_quantization": False, "bf16": True}, "amd", True,
         {"load_in_4bit": True, "bnb_4bit_quant_type": "fp4", "bnb_4bit_use_double_quant": False}),
    ],
)  # fmt: skip
def test_quantization_settings(
    values: dict[str, Any], vendor: str, bnb: bool, expected: dict[str, Any] | None
) -> None:
    settings = quantization_settings(_config(**values), vendor, bnb)
    if expected is None:
        assert settings is None
    else:
        assert settings is not None and expected.items() <= settings.items()


@pytest.mark.parametrize(
    ("values", "vendor", "bnb", "message"),
    [
        ({"quantization_bit": 4}, "cpu", True, "quantization_bit: 4-bit bitsandbytes training \\(QLoRA\\) needs an NVIDIA or AMD GPU, and this machine has no accelerator"),
        ({"quantization_bit": 8}, "ascend", True, "needs an NVIDIA or AMD GPU, and this machine has ascend"),
        ({"quantization_bit": 4}, "nvidia", False, "quantization_bit: needs the bitsandbytes package"),
        ({"quantization_bit": 6}, "nvidia", True, "quantization_bit: bitsandbytes quantizes to 4 or 8 bits, not 6"),
        ({"quantization_bit": 4, "quantization_method": "hqq"}, "nvidia", True, "quantization_method: hqq on-the-fly quantization is not supported"),
    ],
)  # fmt: skip
def test_quantization_errors(values: dict[str, Any], vendor: str, bnb: bool, message: str) -> None:
    with pytest.raises(ModelLoadError, match=message):
        quantization_settings(_config(**values), vendor, bnb)


def test_quantized_training_on_this_cpu_fails_before_loading(tiny_model: Path, tiny_tokenizer: Any) -> None:
    from kubefactory.runtime.model.loader import load_model

    with pytest.raises(ModelLoadError, match="quantization_bit: 4-bit bitsandbytes training"):
        load_model(_config(model_name_or_path=str(tiny_model), quantization_bit=4), tiny_tokenizer)


def test_liger_kernel_without_the_package() -> None:
    try:
        import liger_kernel  # noqa: F401
    except ImportError:
        with pytest.raises(
            ModelLoadError, match="enable_liger_kernel: the liger-kernel package is not installed"
        ):
            check_liger(_config(enable_liger_kernel=True))
    check_liger(_config())


def test_value_head_model_scores_every_token(tiny_model: Path, tiny_tokenizer: Any) -> None:
    import torch
    from kubefactory.runtime.model.loader import load_model

    model = load_model(_config(model_name_or_path=str(tiny_model)), tiny_tokenizer, head="value")
    values = model(input_ids=torch.tensor([[1, 2, 3, 4]])).logits
    assert values.shape == (1, 4, 1)
    assert model.score.bias is not None  # saved as v_head.summary.bias too
