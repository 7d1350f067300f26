"""Which parameters train: LoRA adapters (peft), the last (or first) layers (freeze), or all (full)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from ..config import TrainConfig

from ..errors import UserError

log = logging.getLogger(__name__)

# Output heads stay frozen under "all": LLaMA-Factory's rule, and what keeps a LoRA adapter small.
_HEADS = ("lm_head", "output_layer", "embed_out", "score", "v_head")
# The value head of stage rm (a token-classification layer): always trained.
VALUE_HEAD = "score"
_LAYER = re.compile(r"\.(\d+)\.")


def all_linear_modules(model: PreTrainedModel) -> list[str]:
    import torch

    names = set()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and not any(head in name for head in _HEADS):
            names.add(name.split(".")[-1])
    return sorted(names)


def attach_adapters(
    model: PreTrainedModel, config: TrainConfig, is_trainable: bool = True, value_head: bool = False
) -> Any:
    """Apply the finetuning_type; returns the model to train (a PeftModel under LoRA)."""
    methods: dict[str, Callable[[Any, TrainConfig, bool, bool], Any]] = {
        "full": _full,
        "freeze": _freeze,
        "lora": _lora,
    }
    if config.finetuning_type not in methods:
        raise UserError(
            f"finetuning_type: {config.finetuning_type} is not supported; use one of {', '.join(methods)}"
        )
    if config.finetuning_type != "lora" and config.adapter_paths:
        raise UserError(
            f"adapter_name_or_path: adapters can only be loaded with finetuning_type lora, not {config.finetuning_type}"
        )
    model = methods[config.finetuning_type](model, config, is_trainable, value_head)
    if is_trainable:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        log.info(
            "%s: %d trainable of %d parameters (%.3f%%)",
            config.finetuning_type,
            trainable,
            total,
            100 * trainable / total,
        )
    return model


def _full(model: Any, config: TrainConfig, is_trainable: bool, value_head: bool) -> Any:
    model.requires_grad_(is_trainable)
    return model


# --- freeze --------------------------------------------------------------------------------------


def trainable_layer_ids(num_layers: int, trainable_layers: int) -> list[int]:
    """LLaMA-Factory's rule: a positive count trains the last layers, a negative one the first."""
    if trainable_layers > 0:
        return list(range(max(0, num_layers - trainable_layers), num_layers))
    return list(range(min(-trainable_layers, num_layers)))


def freeze_plan(
    parameter_names: list[str], num_layers: int, trainable_layers: int, modules: list[str], extra: list[str]
) -> set[str]:
    """The names of the parameters that train under finetuning_type freeze.

    Layer modules are the parameter-name parts after the layer number (mlp, self_attn, ...);
    `modules` ["all"] means every one of them. `extra` names modules outside the layers
    (embed_tokens, norm, ...). Unknown names are an error listing the known ones.
    """
    layer_modules: set[str] = set()
    other_modules: set[str] = set()
    for name in parameter_names:
        match = _LAYER.search(name)
        if match:
            layer_modules.add(name[match.end() :].split(".")[0])
        else:
            other_modules.update(part for part in name.split(".")[:-1] if part and not part.isdigit())
    if modules != ["all"]:
        unknown = sorted(set(modules) - layer_modules)
        if unknown:
            raise UserError(
                f"freeze_trainable_modules: {unknown} are not modules of the layers; known: {sorted(layer_modules)}"
            )
    unknown_extra = sorted(set(extra) - other_modules)
    if unknown_extra:
        raise UserError(
            f"freeze_extra_modules: {unknown_extra} are not modules outside the layers; known: {sorted(other_modules)}"
        )
    wanted = layer_modules if modules == ["all"] else set(modules)
    patterns = [
        f".{index}.{module}"
        for index in trainable_layer_ids(num_layers, trainable_layers)
        for module in wanted
    ]
    trainable = set()
    for name in parameter_names:
        in_layer = any(pattern + "." in name for pattern in patterns)
        in_extra = any(part in extra for part in name.split(".")[:-1]) and not _LAYER.search(name)
        if in_layer or in_extra:
            trainable.add(name)
    return trainable


def _freeze(model: Any, config: TrainConfig, is_trainable: bool, value_head: bool) -> Any:
    from ..config.base import split_list

    num_layers = getattr(model.config, "num_hidden_layers", None) or getattr(model.config, "num_layers", None)
    if not num_layers:
        raise UserError(
            "finetuning_type freeze: the model config has no num_hidden_layers to count layers by"
        )
    names = [name for name, _ in model.named_parameters()]
    modules = split_list(config.freeze_trainable_modules) or ["all"]
    extra = split_list(config.freeze_extra_modules)
    trainable = freeze_plan(names, int(num_layers), config.freeze_trainable_layers, modules, extra)
    for name, parameter in model.named_parameters():
        head = value_head and name.split(".")[0] == VALUE_HEAD
        parameter.requires_grad_(is_trainable and (name in trainable or head))
    return model


# --- lora ----------------------------------------------------------------------------------------


def lora_init(config: TrainConfig) -> bool | str:
    """peft's init_lora_weights: PiSSA with fast SVD (pissa_iter iterations) or a full SVD (-1)."""
    if not config.pissa_init:
        return True
    return "pissa" if config.pissa_iter == -1 else f"pissa_niter_{config.pissa_iter}"


def _lora(model: Any, config: TrainConfig, is_trainable: bool, value_head: bool) -> Any:
    from peft import LoraConfig, PeftModel, TaskType, get_peft_model

    for path in config.adapter_paths:
        model = PeftModel.from_pretrained(
            model, path, is_trainable=is_trainable and not config.create_new_adapter
        )
        if path != config.adapter_paths[-1] or config.create_new_adapter:
            model = model.merge_and_unload()
    if config.adapter_paths and not config.create_new_adapter:
        log.info("continuing to train the adapter %s", config.adapter_paths[-1])
        return model
    if not is_trainable:
        return model
    targets = config.lora_target_modules
    if targets == ["all"]:
        targets = all_linear_modules(model)
    missing = [t for t in targets if not any(name.split(".")[-1] == t for name, _ in model.named_modules())]
    if missing:
        raise UserError(
            f"lora_target: no module named {missing} in the model; available: {all_linear_modules(model)}"
        )
    extra = config.additional_target_modules
    missing_extra = [
        t for t in extra if not any(name.split(".")[-1] == t for name, _ in model.named_modules())
    ]
    if missing_extra:
        raise UserError(f"additional_target: no module named {missing_extra} in the model")
    lora = LoraConfig(
        task_type=TaskType.TOKEN_CLS
        if value_head
        else TaskType.CAUSAL_LM,  # TOKEN_CLS also trains and saves the head
        r=config.lora_rank,
        lora_alpha=config.lora_alpha or 2 * config.lora_rank,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        modules_to_save=extra or None,
        use_rslora=config.use_rslora,
        use_dora=config.use_dora,
        init_lora_weights=lora_init(config),  # type: ignore[arg-type]
    )
    return get_peft_model(model, lora)
