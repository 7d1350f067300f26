"""What a training config may combine, checked before anything is loaded (pure: config in, errors out).

Each message names the key to change. Keys LLaMA-Factory accepts but this runtime does not
implement are refused, never silently ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:
    from ..config import TrainConfig

# key → why it is refused when set (truthy)
UNSUPPORTED: dict[str, str] = {
    "use_galore": "the GaLore optimizer is not supported; use optim: galore_adamw (transformers) instead",
    "use_apollo": "the APOLLO optimizer is not supported; use optim: apollo_adamw (transformers) instead",
    "use_badam": "BAdam is not supported",
    "use_adam_mini": "Adam-mini is not supported",
    "use_muon": "the Muon optimizer is not supported",
    "use_llama_pro": "LLaMA Pro block expansion is not supported",
    "use_unsloth": "unsloth is not supported",
    "use_unsloth_gc": "unsloth is not supported",
    "use_mca": "mcore_adapter (Megatron) training is not supported",
    "use_hyper_parallel": "hyper-parallel training is not supported",
    "use_kt": "KTransformers is not supported",
    "use_dft_loss": "the dynamic fine-tuning loss is not supported",
    "use_asft_loss": "the anchored sft loss is not supported",
    "use_eaft_loss": "the entropy-adaptive fine-tuning loss is not supported",
    "shift_attn": "shifted sparse attention (LongLoRA) is not supported",
    "mixture_of_depths": "mixture-of-depths is not supported",
    "pissa_convert": "converting PiSSA adapters when saving is not supported; the saved adapter is a PiSSA adapter",
    "enable_torch_profiler": "the torch profiler is not supported",
    "fp8": "FP8 training is not supported",
}


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def check_stage_config(config: TrainConfig, zero_stage: int | None = None) -> None:
    """Raise a UserError for the first rule the config breaks."""
    for key, reason in UNSUPPORTED.items():
        if getattr(config, key, None):
            raise UserError(f"{key}: {reason}; remove the key")
    if config.finetuning_type == "oft":
        raise UserError("finetuning_type: oft is not supported; use lora, freeze or full")
    if config.stage == "ppo":
        raise UserError(
            f"stage: ppo is not supported: the installed TRL ({_version('trl')}) ships no PPOTrainer, and "
            "LLaMA-Factory 0.9.5's ppo needs the old API of trl<=0.9.6; train with stage dpo or kto on "
            "preference data instead"
        )
    if config.stage != "dpo" and "pref_loss" in config.model_fields_set and config.pref_loss != "sigmoid":
        raise UserError(
            f"pref_loss: only stage dpo has preference losses (orpo and simpo included), not {config.stage}"
        )
    if config.stage == "dpo" and config.pref_loss in ("orpo", "simpo") and config.ref_model:
        raise UserError(
            f"ref_model: pref_loss {config.pref_loss} does not use a reference model; remove ref_model"
        )
    wants_eval_data = config.do_eval or config.do_predict or config.predict_with_generate
    if wants_eval_data and not config.eval_dataset_names and config.val_size < 1e-6:
        raise UserError(
            "eval_dataset: do_eval, do_predict and predict_with_generate need eval_dataset or val_size > 0"
        )
    if config.stage == "sft" and config.do_predict and not config.predict_with_generate:
        raise UserError(
            "do_predict: set predict_with_generate: true to generate and save the model's predictions"
        )
    if config.predict_with_generate and config.compute_accuracy:
        raise UserError("compute_accuracy: cannot be combined with predict_with_generate; set one of them")
    if config.predict_with_generate and zero_stage == 3:
        raise UserError(
            "predict_with_generate: cannot generate under DeepSpeed ZeRO-3; use ZeRO-2 or no DeepSpeed"
        )
    if config.pissa_init and zero_stage == 3:
        raise UserError("pissa_init: PiSSA initialisation cannot run under DeepSpeed ZeRO-3; use ZeRO-2")
    if config.streaming and config.max_steps <= 0:
        raise UserError("max_steps: streaming datasets have no length; set max_steps")
    if config.do_train and not config.dataset_names:
        raise UserError("dataset: do_train is true but no training dataset is given")
    if config.loraplus_lr_ratio is not None and config.finetuning_type != "lora":
        raise UserError(f"loraplus_lr_ratio: LoRA+ needs finetuning_type lora, not {config.finetuning_type}")
    if config.create_new_adapter and not config.adapter_paths:
        raise UserError(
            "create_new_adapter: needs adapter_name_or_path (the adapters to merge before the new one)"
        )
