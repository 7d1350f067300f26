"""LoRA+: the B matrices of LoRA learn `loraplus_lr_ratio` times faster than the A matrices.

The parameter groups follow LLaMA-Factory: A matrices (and other 2-d trainable weights) at the
learning rate; B matrices and 1-d parameters at the LoRA+ rate, with weight decay where the
Trainer would apply it; LoRA embedding B matrices at loraplus_lr_embedding. The optimizer class
is the one `optim` names, built by the Trainer's own rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import UserError

if TYPE_CHECKING:
    from transformers import TrainingArguments

    from ..config import TrainConfig


def loraplus_groups(
    named: list[tuple[str, Any]],
    decay: set[str],
    lr: float,
    ratio: float,
    embedding_lr: float,
    weight_decay: float,
) -> list[dict[str, Any]]:
    """Parameter groups from (name, parameter) pairs of trainable parameters (pure)."""
    groups: dict[str, list[Any]] = {"a": [], "b": [], "b_no_decay": [], "embedding": []}
    for name, parameter in named:
        if "lora_embedding_B" in name:
            groups["embedding"].append(parameter)
        elif "lora_B" in name or parameter.ndim == 1:
            groups["b" if name in decay else "b_no_decay"].append(parameter)
        else:
            groups["a"].append(parameter)
    return [
        {"params": groups["a"], "lr": lr, "weight_decay": weight_decay},
        {"params": groups["b"], "lr": lr * ratio, "weight_decay": weight_decay},
        {"params": groups["b_no_decay"], "lr": lr * ratio, "weight_decay": 0.0},
        {"params": groups["embedding"], "lr": embedding_lr, "weight_decay": weight_decay},
    ]


def optimizers_for(model: Any, args: TrainingArguments, config: TrainConfig) -> tuple[Any, Any]:
    """(optimizer, None) for the Trainer's `optimizers` argument: an optimizer for LoRA+, else the
    Trainer builds its own."""
    if config.loraplus_lr_ratio is None:
        return None, None
    if config.finetuning_type != "lora":
        raise UserError(f"loraplus_lr_ratio: LoRA+ needs finetuning_type lora, not {config.finetuning_type}")
    if args.fsdp:
        raise UserError(
            "loraplus_lr_ratio: LoRA+ builds its own optimizer, which FSDP does not accept; use DeepSpeed or DDP"
        )
    from transformers import Trainer

    decay = set(Trainer.get_decay_parameter_names(None, model))  # type: ignore[arg-type]  # uses no state
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    optimizer_class, optimizer_kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    groups = loraplus_groups(
        named,
        decay,
        args.learning_rate,
        config.loraplus_lr_ratio,
        config.loraplus_lr_embedding,
        args.weight_decay,
    )
    optimizer_kwargs = {key: value for key, value in optimizer_kwargs.items() if key != "lr"}
    return optimizer_class(
        [g for g in groups if g["params"]], lr=args.learning_rate, **optimizer_kwargs
    ), None
