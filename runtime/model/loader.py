"""Load the tokenizer and the model a config names."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from ..config import TrainConfig

from ..errors import UserError

log = logging.getLogger(__name__)

_ATTENTION = {"auto": None, "disabled": "eager", "sdpa": "sdpa", "fa2": "flash_attention_2", "fa3": "flash_attention_3"}


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
        return AutoTokenizer.from_pretrained(
            path,
            use_fast=config.use_fast_tokenizer,
            split_special_tokens=config.split_special_tokens,
            trust_remote_code=config.trust_remote_code,
            cache_dir=config.cache_dir,
            revision=config.model_revision,
        )
    except OSError as err:
        raise ModelLoadError(f"model_name_or_path: cannot load a tokenizer from '{path}': {err}") from None


def _dtype(config: TrainConfig) -> Any:
    import torch

    if config.bf16 or config.pure_bf16:
        return torch.bfloat16
    if config.fp16:
        return torch.float16
    return torch.float32


def load_model(config: TrainConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    from transformers import AutoModelForCausalLM

    path = _require_model_path(config)
    kwargs: dict[str, Any] = {
        "dtype": _dtype(config),
        "trust_remote_code": config.trust_remote_code,
        "cache_dir": config.cache_dir,
        "revision": config.model_revision,
    }
    if _ATTENTION[config.flash_attn]:
        kwargs["attn_implementation"] = _ATTENTION[config.flash_attn]
    if config.quantization_bit is not None:
        raise ModelLoadError("quantization_bit: quantized training is not supported by this version yet")
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as err:
        raise ModelLoadError(f"model_name_or_path: cannot load a model from '{path}': {err}") from None
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        log.warning("resizing embeddings to the tokenizer's %d tokens", len(tokenizer))
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)
    return model


def prepare_for_training(model: PreTrainedModel, config: TrainConfig) -> None:
    """Gradient checkpointing is on unless disabled, as in LLaMA-Factory."""
    if config.disable_gradient_checkpointing or not model.supports_gradient_checkpointing:
        return
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": config.use_reentrant_gc})
    model.enable_input_require_grads()  # adapters need inputs that require grad under reentrant checkpointing
    model.config.use_cache = False
