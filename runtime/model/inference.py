"""Load a model for generation (chat, api, export): base model, template, and adapters.

`adapter_name_or_path` keeps LLaMA-Factory's meaning: plain paths are merged into the base in
order. KubeFactory adds one spelling for multi-LoRA serving: a `name=path` entry stays a separate
adapter, selected per request by that name (the OpenAI `model` field), over one shared base.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config.base import split_list
from .loader import ModelLoadError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..config import TrainConfig
    from ..data.templates import Template

log = logging.getLogger(__name__)

_DTYPES = {"float16": "float16", "bfloat16": "bfloat16", "float32": "float32"}


@dataclass(frozen=True)
class AdapterPlan:
    """Adapters to merge into the base (in order), and named adapters kept apart for serving."""

    merged: tuple[str, ...] = ()
    named: dict[str, str] = field(default_factory=dict)


def plan_adapters(value: str | list[str] | None) -> AdapterPlan:
    """Split `adapter_name_or_path` into merged paths and `name=path` serving adapters."""
    merged: list[str] = []
    named: dict[str, str] = {}
    for entry in split_list(value):
        name, eq, path = entry.partition("=")
        if not eq:
            merged.append(entry)
            continue
        name, path = name.strip(), path.strip()
        if not name or not path:
            raise ModelLoadError(
                f"adapter_name_or_path: '{entry}' must be a path or name=path, with both parts set"
            )
        if name in named:
            raise ModelLoadError(
                f"adapter_name_or_path: the adapter name '{name}' is used twice; names must be unique"
            )
        named[name] = path
    return AdapterPlan(tuple(merged), named)


@dataclass
class InferenceModel:
    """What generation needs: the model in eval mode, its tokenizer and template, adapter names."""

    model: Any
    tokenizer: PreTrainedTokenizerBase
    template: Template
    adapters: tuple[str, ...]  # named adapters a request may select; the base is always available
    context_length: int

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device


def inference_dtype(config: TrainConfig, saved: Any, on_accelerator: bool) -> Any:
    """infer_dtype, or for auto: the checkpoint's dtype on an accelerator and float32 on a CPU,
    where half precision is slow and imprecise."""
    import torch

    if config.infer_dtype != "auto":
        return getattr(torch, _DTYPES[config.infer_dtype])
    if not on_accelerator:
        return torch.float32
    return saved if saved in (torch.float16, torch.bfloat16) else torch.bfloat16


def check_not_quantized(config: TrainConfig, action: str) -> None:
    """Adapters cannot be merged into quantized weights; say so before loading anything."""
    if config.quantization_bit is not None:
        raise ModelLoadError(
            f"quantization_bit: cannot {action} into a model quantized to {config.quantization_bit} bits; "
            "remove quantization_bit so the base loads in full precision (merging into rounded weights "
            "would not reproduce base + adapter)"
        )
    path = Path(config.model_name_or_path or "") / "config.json"
    if path.is_file():
        import json

        quantization = json.loads(path.read_text(encoding="utf-8")).get("quantization_config")
        if quantization:
            method = (
                quantization.get("quant_method", "unknown") if isinstance(quantization, dict) else "unknown"
            )
            raise ModelLoadError(
                f"model_name_or_path: {config.model_name_or_path} is a quantized checkpoint ({method}); "
                f"cannot {action} into it. Use the unquantized base model the adapters were trained on"
            )


def load_base_model(config: TrainConfig, dtype: Any, device: str) -> Any:
    from transformers import AutoModelForCausalLM

    if not config.model_name_or_path:
        raise ModelLoadError("model_name_or_path: required; give a local model folder or a cached hub id")
    try:
        model = AutoModelForCausalLM.from_pretrained(
            config.model_name_or_path,
            dtype=dtype,
            trust_remote_code=config.trust_remote_code,
            cache_dir=config.cache_dir,
            revision=config.model_revision,
        )
    except OSError as err:
        raise ModelLoadError(
            f"model_name_or_path: cannot load a model from '{config.model_name_or_path}': {err}"
        ) from None
    return model.to(device)  # type: ignore[arg-type]  # transformers types .to() for models loosely


def merge_adapters(model: Any, paths: tuple[str, ...] | list[str]) -> Any:
    """Merge each adapter into the weights, in order, as LLaMA-Factory does."""
    from peft import PeftModel

    for path in paths:
        _require_adapter(path, "adapter_name_or_path")
        try:
            model = PeftModel.from_pretrained(model, path).merge_and_unload()
        except (OSError, ValueError) as err:
            raise ModelLoadError(
                f"adapter_name_or_path: cannot load a LoRA adapter from '{path}': {err}"
            ) from None
        log.info("merged adapter %s", path)
    return model


def attach_named_adapters(model: Any, named: dict[str, str]) -> Any:
    """One PeftModel holding every named adapter; requests pick one with adapter_names."""
    from peft import PeftModel

    peft_model = None
    for name, path in named.items():
        _require_adapter(path, f"adapter_name_or_path ({name}=)")
        try:
            if peft_model is None:
                peft_model = PeftModel.from_pretrained(model, path, adapter_name=name)
            else:
                peft_model.load_adapter(path, adapter_name=name)
        except (OSError, ValueError) as err:
            raise ModelLoadError(
                f"adapter_name_or_path: cannot load the LoRA adapter '{name}' from '{path}': {err}"
            ) from None
        log.info("loaded adapter '%s' from %s", name, path)
    return peft_model if peft_model is not None else model


def _require_adapter(path: str, key: str) -> None:
    # a folder without adapter_config.json is the common mistake (a checkpoint's parent, a merged model)
    if Path(path).is_dir() and not (Path(path) / "adapter_config.json").is_file():
        raise ModelLoadError(
            f"{key}: {path} holds no adapter_config.json; point it at a saved LoRA adapter folder"
        )


def load_for_inference(config: TrainConfig, device: str | None = None) -> InferenceModel:
    """Load tokenizer, template, base model and adapters, ready for generation."""
    import torch

    from ..data.templates.resolve import resolve_template
    from .loader import load_tokenizer

    plan = plan_adapters(config.adapter_name_or_path)
    if plan.merged:
        check_not_quantized(config, "merge adapters")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = load_tokenizer(config)
    template = resolve_template(config, tokenizer)  # the template of training, and its tokenizer fixes
    dtype = inference_dtype(config, checkpoint_dtype(config), on_accelerator=device != "cpu")
    model = load_base_model(config, dtype, device)
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)
    model = merge_adapters(model, plan.merged)
    model = attach_named_adapters(model, plan.named)
    model.eval()
    model.requires_grad_(False)
    return InferenceModel(model, tokenizer, template, tuple(plan.named), _context_length(config, model))


def checkpoint_dtype(config: TrainConfig) -> Any:
    """The dtype the checkpoint was saved in (its config says), float32 when unknown."""
    import torch
    from transformers import AutoConfig

    try:
        hf_config = AutoConfig.from_pretrained(
            str(config.model_name_or_path), trust_remote_code=config.trust_remote_code
        )
    except (OSError, ValueError):
        return torch.float32
    dtype = getattr(hf_config, "dtype", None) or getattr(hf_config, "torch_dtype", None)
    if isinstance(dtype, str):
        return getattr(torch, dtype, torch.float32)
    return dtype or torch.float32


def _context_length(config: TrainConfig, model: Any) -> int:
    """model_max_length when set, else what the model's position embeddings allow."""
    if config.model_max_length:
        return int(config.model_max_length)
    hf_config = model.config
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(hf_config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048
