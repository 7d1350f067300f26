"""Load the tokenizer and the model a config names: attention kernel, RoPE scaling, quantization.

The decisions (which attention implementation, which RoPE parameters, which quantization
settings) are pure functions of the config and the machine, tested without loading anything.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from ..config import TrainConfig

from ..errors import UserError

log = logging.getLogger(__name__)

# LLaMA-Factory's flash_attn values → transformers' attn_implementation (None: its default, sdpa)
_ATTENTION: dict[str, str | None] = {
    "auto": None,
    "disabled": "eager",
    "sdpa": "sdpa",
    "fa2": "flash_attention_2",
    "fa3": "flash_attention_3",
}
_ATTENTION_PACKAGE = {"fa2": "flash_attn", "fa3": "flash_attn_interface"}

# value: a causal LM with one value per token (the value head of rm), as a token-classification
# model with one label: a linear layer on the last hidden states, saved with the model.
Head = Literal["causal_lm", "value"]


class ModelLoadError(UserError):
    """The model or tokenizer a config names cannot be loaded."""


def _require_model_path(config: TrainConfig) -> str:
    if not config.model_name_or_path:
        raise ModelLoadError("model_name_or_path: required; give a local model folder or a cached hub id")
    return config.model_name_or_path


def load_tokenizer(config: TrainConfig) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    path = _require_model_path(config)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            path,
            use_fast=config.use_fast_tokenizer,
            split_special_tokens=config.split_special_tokens,
            trust_remote_code=config.trust_remote_code,
            cache_dir=config.cache_dir,
            revision=config.model_revision,
        )
    except OSError as err:
        raise ModelLoadError(f"model_name_or_path: cannot load a tokenizer from '{path}': {err}") from None
    if tokenizer.pad_token_id is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token  # batches need a pad id; LLaMA-Factory does the same
    return tokenizer


def compute_dtype(config: TrainConfig) -> Any:
    import torch

    if config.bf16 or config.pure_bf16:
        return torch.bfloat16
    if config.fp16:
        return torch.float16
    return torch.float32


def attention_implementation(flash_attn: str, installed: bool) -> str | None:
    """transformers' attn_implementation for LLaMA-Factory's flash_attn key."""
    if flash_attn in _ATTENTION_PACKAGE and not installed:
        raise ModelLoadError(
            f"flash_attn: {flash_attn} needs the {_ATTENTION_PACKAGE[flash_attn]} package, which is not installed; "
            "install it on a GPU image, or use flash_attn: sdpa (or auto)"
        )
    return _ATTENTION[flash_attn]


def rope_parameters(
    current: dict[str, Any] | None, max_position_embeddings: int, kind: str | None, cutoff_len: int
) -> tuple[dict[str, Any], int] | None:
    """LLaMA-Factory's RoPE scaling for training: scale by ceil(cutoff_len / original length) when
    cutoff_len exceeds the model's context; None when no scaling is asked for or needed."""
    if kind is None:
        return None
    current = dict(current or {})
    original = int(current.get("original_max_position_embeddings") or max_position_embeddings)
    if cutoff_len <= original:
        log.warning(
            "rope_scaling: cutoff_len %d fits the model's %d positions; not scaling", cutoff_len, original
        )
        return None
    if kind == "dynamic":
        log.warning("rope_scaling: dynamic NTK scaling may not work well with fine-tuning")
    factor = float(math.ceil(cutoff_len / original))
    params: dict[str, Any] = {key: value for key, value in current.items() if key == "rope_theta"}
    params.update(rope_type=kind, factor=factor)
    if kind in ("dynamic", "yarn", "llama3"):
        params["original_max_position_embeddings"] = original
    if kind == "llama3":
        params.update(low_freq_factor=1.0, high_freq_factor=4.0)
    return params, int(original * factor)


def quantization_settings(config: TrainConfig, vendor: str, bnb_installed: bool) -> dict[str, Any] | None:
    """BitsAndBytesConfig arguments for quantization_bit, or a clear error where it cannot run."""
    bits = config.quantization_bit
    if bits is None:
        return None
    if config.quantization_method != "bnb":
        raise ModelLoadError(
            f"quantization_method: {config.quantization_method} on-the-fly quantization is not supported; "
            "use bnb (bitsandbytes), or give an already quantized model without quantization_bit"
        )
    if bits not in (4, 8):
        raise ModelLoadError(f"quantization_bit: bitsandbytes quantizes to 4 or 8 bits, not {bits}")
    if vendor not in ("nvidia", "amd"):
        raise ModelLoadError(
            f"quantization_bit: {bits}-bit bitsandbytes training (QLoRA) needs an NVIDIA or AMD GPU, and this "
            f"machine has {'no accelerator' if vendor == 'cpu' else vendor}; remove quantization_bit to train "
            "unquantized, or run on a GPU node"
        )
    if not bnb_installed:
        raise ModelLoadError("quantization_bit: needs the bitsandbytes package (pip install bitsandbytes)")
    if bits == 8:
        return {"load_in_8bit": True}
    dtype = compute_dtype(config)
    return {
        "load_in_4bit": True,
        "bnb_4bit_compute_dtype": dtype,
        "bnb_4bit_use_double_quant": config.double_quantization,
        "bnb_4bit_quant_type": config.quantization_type,
        "bnb_4bit_quant_storage": dtype,
    }


def check_liger(config: TrainConfig) -> None:
    if config.enable_liger_kernel and importlib.util.find_spec("liger_kernel") is None:
        raise ModelLoadError(
            "enable_liger_kernel: the liger-kernel package is not installed (pip install liger-kernel; "
            "it needs a GPU with Triton); remove the key to train without it"
        )


def check_model_settings(config: TrainConfig) -> None:
    """The loading decisions that can fail, taken before any data is tokenized."""
    from ..launch.accelerators import detect_accelerator

    package = _ATTENTION_PACKAGE.get(config.flash_attn)
    attention_implementation(
        config.flash_attn, package is None or importlib.util.find_spec(package) is not None
    )
    check_liger(config)
    quantization_settings(
        config, detect_accelerator().vendor, importlib.util.find_spec("bitsandbytes") is not None
    )


def load_model(
    config: TrainConfig, tokenizer: PreTrainedTokenizerBase, head: Head = "causal_lm"
) -> PreTrainedModel:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForTokenClassification

    from ..launch.accelerators import detect_accelerator

    path = _require_model_path(config)
    common = {
        "trust_remote_code": config.trust_remote_code,
        "cache_dir": config.cache_dir,
        "revision": config.model_revision,
    }
    try:
        model_config = AutoConfig.from_pretrained(path, **common)
    except OSError as err:
        raise ModelLoadError(f"model_name_or_path: cannot load a model config from '{path}': {err}") from None
    _apply_rope_scaling(model_config, config)
    kwargs: dict[str, Any] = {"config": model_config, "dtype": compute_dtype(config), **common}
    package = _ATTENTION_PACKAGE.get(config.flash_attn)
    implementation = attention_implementation(
        config.flash_attn, package is None or importlib.util.find_spec(package) is not None
    )
    if implementation:
        kwargs["attn_implementation"] = implementation
    check_liger(config)
    accelerator = detect_accelerator()
    bnb = quantization_settings(
        config, accelerator.vendor, importlib.util.find_spec("bitsandbytes") is not None
    )
    if bnb is not None:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(**bnb)
        kwargs["device_map"] = {"": _local_device(accelerator.profile.device_type)}
    model_class = AutoModelForTokenClassification if head == "value" else AutoModelForCausalLM
    if head == "value":
        model_config.num_labels = 1
    try:
        model = model_class.from_pretrained(path, **kwargs)
    except OSError as err:
        raise ModelLoadError(f"model_name_or_path: cannot load a model from '{path}': {err}") from None
    except ValueError as err:
        if head == "value" and "Unrecognized configuration class" in str(err):
            raise ModelLoadError(
                f"stage rm: {type(model_config).__name__} has no token-classification head in transformers, "
                "which the value head of a reward model is built on; choose another base model"
            ) from None
        raise
    if len(tokenizer) > int(model.get_input_embeddings().weight.shape[0]):  # type: ignore[index]
        log.warning("resizing embeddings to the tokenizer's %d tokens", len(tokenizer))
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)
    if head == "value":
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def _apply_rope_scaling(model_config: Any, config: TrainConfig) -> None:
    if config.rope_scaling is None:
        return
    current = getattr(model_config, "rope_parameters", None)
    max_positions = getattr(model_config, "max_position_embeddings", None)
    if max_positions is None:
        log.warning("rope_scaling: the model config has no max_position_embeddings; not scaling")
        return
    scaled = rope_parameters(current, max_positions, config.rope_scaling, config.cutoff_len)
    if scaled is None:
        return
    params, new_max = scaled
    model_config.rope_parameters = params
    model_config.max_position_embeddings = new_max
    log.info(
        "rope_scaling: %s × %.0f, context %d → %d",
        params["rope_type"],
        params["factor"],
        max_positions,
        new_max,
    )


def _local_device(device_type: str) -> Any:
    import os

    return f"{device_type}:{int(os.environ.get('LOCAL_RANK', '0'))}"


def prepare_for_training(model: PreTrainedModel, config: TrainConfig) -> None:
    """Gradient checkpointing is on unless disabled, as in LLaMA-Factory; no KV cache while training
    (a cache also hides packed sequences from the attention mask)."""
    model.config.use_cache = False
    if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
        from peft import prepare_model_for_kbit_training

        prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    if config.disable_gradient_checkpointing or not model.supports_gradient_checkpointing:
        return
    model.gradient_checkpointing_enable(
        gradient_checkpointing_kwargs={"use_reentrant": config.use_reentrant_gc}
    )
    model.enable_input_require_grads()  # adapters need inputs that require grad under reentrant checkpointing
