"""Which parameters train: LoRA adapters (peft) or the full model."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from ..config import TrainConfig

from ..errors import UserError

log = logging.getLogger(__name__)

# Output heads stay frozen under "all": LLaMA-Factory's rule, and what keeps a LoRA adapter small.
_HEADS = ("lm_head", "output_layer", "embed_out", "score", "v_head")


def all_linear_modules(model: PreTrainedModel) -> list[str]:
    import torch

    names = set()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and not any(head in name for head in _HEADS):
            names.add(name.split(".")[-1])
    return sorted(names)


def attach_adapters(model: PreTrainedModel, config: TrainConfig, is_trainable: bool = True) -> Any:
    """Apply the finetuning_type; returns the model to train (a PeftModel under LoRA)."""
    if config.finetuning_type == "full":
        model.requires_grad_(True)
        return model
    if config.finetuning_type != "lora":
        raise UserError(f"finetuning_type: {config.finetuning_type} is not supported by this version yet; use lora or full")
    return _lora(model, config, is_trainable)


def _lora(model: PreTrainedModel, config: TrainConfig, is_trainable: bool) -> Any:
    from peft import LoraConfig, PeftModel, TaskType, get_peft_model

    for path in config.adapter_paths:
        model = PeftModel.from_pretrained(model, path, is_trainable=is_trainable and not config.create_new_adapter)
        if path != config.adapter_paths[-1] or config.create_new_adapter:
            model = model.merge_and_unload()
    if config.adapter_paths and not config.create_new_adapter:
        return model
    targets = config.lora_target_modules
    if targets == ["all"]:
        targets = all_linear_modules(model)
    missing = [t for t in targets if not any(name.split(".")[-1] == t for name, _ in model.named_modules())]
    if missing:
        raise UserError(f"lora_target: no module named {missing} in the model; available: {all_linear_modules(model)}")
    lora = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=config.lora_rank,
        lora_alpha=config.lora_alpha or 2 * config.lora_rank,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        modules_to_save=config.additional_target_modules or None,
        use_rslora=config.use_rslora,
        use_dora=config.use_dora,
    )
    peft_model = get_peft_model(model, lora)
    trainable, total = peft_model.get_nb_trainable_parameters()
    log.info("LoRA on %s: %d trainable of %d parameters (%.3f%%)", targets, trainable, total, 100 * trainable / total)
    return peft_model
