"""Method keys: the training stage, the fine-tuning type and their knobs."""

from __future__ import annotations

from typing import Literal

from .base import ArgGroup, arg

Stage = Literal["pt", "sft", "rm", "ppo", "dpo", "kto"]
FinetuningType = Literal["lora", "oft", "freeze", "full"]


class FinetuningArguments(ArgGroup):
    stage: Stage = arg("sft", "Training stage: pt, sft, rm, ppo, dpo or kto.")
    finetuning_type: FinetuningType = arg("lora", "Which parameters are trained: lora, oft, freeze or full.")
    pure_bf16: bool = arg(False, "Train in pure bfloat16, without AMP.")
    use_llama_pro: bool = arg(False, "Train only the expanded blocks (LLaMA Pro).")
    use_adam_mini: bool = arg(False, "Use the Adam-mini optimizer.")
    use_mca: bool = arg(False, "Use mcore_adapter (Megatron) training.")
    use_hyper_parallel: bool = arg(False, "Use hyper-parallel training.")
    hyper_parallel_args: str | None = arg(None, "Arguments of hyper-parallel training.")
    use_muon: bool = arg(False, "Use the Muon optimizer.")
    use_dft_loss: bool = arg(False, "Use the dynamic fine-tuning loss for sft.")
    use_asft_loss: bool = arg(False, "Use the anchored sft loss.")
    asft_alpha: float = arg(0.1, "Weight of the anchored sft loss.")
    use_eaft_loss: bool = arg(False, "Use the entropy-adaptive fine-tuning loss.")
    eaft_alpha: float = arg(1.0, "Weight of the entropy-adaptive loss.")
    freeze_vision_tower: bool = arg(True, "Freeze the vision tower of multimodal models.")
    freeze_multi_modal_projector: bool = arg(True, "Freeze the multimodal projector.")
    freeze_language_model: bool = arg(False, "Freeze the language model of multimodal models.")
    compute_accuracy: bool = arg(False, "Report token accuracy at evaluation.")
    disable_shuffling: bool = arg(False, "Keep the training data in order.")
    early_stopping_steps: int | None = arg(
        None, "Stop when the eval metric has not improved for this many evaluations."
    )
    plot_loss: bool = arg(False, "Draw training_loss.png (and eval loss) in output_dir.")
    include_effective_tokens_per_second: bool = arg(
        False, "Report effective (non-padding) tokens per second."
    )

    # freeze
    freeze_trainable_layers: int = arg(
        2, "freeze: number of trainable layers; positive counts from the last layer, negative from the first."
    )
    freeze_trainable_modules: str = arg(
        "all", "freeze: trainable modules of those layers, comma-separated, or all."
    )
    freeze_extra_modules: str | None = arg(
        None, "freeze: modules outside the layers to train too, comma-separated."
    )

    # lora and oft
    additional_target: str | None = arg(
        None, "Modules besides the adapters to train and save, comma-separated."
    )
    lora_alpha: int | None = arg(None, "LoRA scaling factor alpha; default: 2 × lora_rank.")
    lora_dropout: float = arg(0.0, "Dropout of the LoRA layers.", ge=0, le=1)
    lora_rank: int = arg(8, "Rank of the LoRA matrices.", gt=0)
    lora_target: str | list[str] = arg(
        "all", "Modules LoRA is applied to, comma-separated; all = every linear layer except the output head."
    )
    loraplus_lr_ratio: float | None = arg(
        None, "LoRA+: learning-rate ratio of the B matrices to the A matrices."
    )
    loraplus_lr_embedding: float = arg(1e-6, "LoRA+: learning rate of LoRA embedding layers.")
    use_rslora: bool = arg(False, "Use rank-stabilised LoRA scaling.")
    use_dora: bool = arg(False, "Use weight-decomposed LoRA (DoRA).")
    pissa_init: bool = arg(False, "Initialise LoRA with PiSSA.")
    pissa_iter: int = arg(16, "Fast-SVD iterations of PiSSA; -1 for a full SVD.")
    pissa_convert: bool = arg(False, "Convert a PiSSA adapter into a normal LoRA adapter when saving.")
    create_new_adapter: bool = arg(
        False, "Train a new adapter on top of loaded adapters instead of continuing them."
    )
    module_dropout: float = arg(0.0, "OFT: module dropout.")
    oft_rank: int = arg(0, "OFT: rank.")
    oft_block_size: int = arg(32, "OFT: block size.")
    oft_target: str = arg("all", "OFT: target modules, comma-separated, or all.")

    # preference and RLHF
    pref_beta: float = arg(0.1, "Beta of the preference losses (dpo, kto, orpo, simpo).")
    pref_ftx: float = arg(0.0, "Weight of an added sft loss in preference training.")
    pref_bco_weight: float = arg(0.0, "Weight of the BCO loss in dpo.")
    pref_loss: Literal["sigmoid", "hinge", "ipo", "kto_pair", "orpo", "simpo"] = arg(
        "sigmoid", "dpo loss: sigmoid, hinge, ipo, kto_pair, or the reference-free orpo and simpo."
    )
    dpo_label_smoothing: float = arg(0.0, "Label smoothing of the dpo loss, between 0 and 0.5.", ge=0, le=0.5)
    kto_chosen_weight: float = arg(1.0, "kto: weight of desirable examples.")
    kto_rejected_weight: float = arg(1.0, "kto: weight of undesirable examples.")
    simpo_gamma: float = arg(0.5, "simpo: target reward margin.")
    ppo_buffer_size: int = arg(1, "ppo: mini-batches per optimisation step.")
    ppo_epochs: int = arg(4, "ppo: epochs per optimisation step.")
    ppo_score_norm: bool = arg(False, "ppo: normalise scores.")
    ppo_target: float = arg(6.0, "ppo: target KL for the adaptive KL control.")
    ppo_whiten_rewards: bool = arg(False, "ppo: whiten rewards before computing advantages.")
    ref_model: str | None = arg(
        None, "Reference model for dpo and kto; default: the model with adapters off."
    )
    ref_model_adapters: str | None = arg(None, "Adapters of the reference model.")
    ref_model_quantization_bit: int | None = arg(None, "Quantization bits of the reference model.")
    reward_model: str | None = arg(None, "Reward model for ppo.")
    reward_model_adapters: str | None = arg(None, "Adapters of the reward model.")
    reward_model_quantization_bit: int | None = arg(None, "Quantization bits of the reward model.")
    reward_model_type: Literal["lora", "full", "api"] = arg("lora", "Kind of reward model for ppo.")
    ld_alpha: float | None = arg(None, "LD-DPO: weight of the verbose part of responses.")

    # optimizers
    use_galore: bool = arg(False, "Use the GaLore optimizer.")
    galore_target: str = arg("all", "GaLore: target modules.")
    galore_rank: int = arg(16, "GaLore: rank.")
    galore_update_interval: int = arg(200, "GaLore: steps between projection updates.")
    galore_scale: float = arg(2.0, "GaLore: scale.")
    galore_proj_type: Literal["std", "reverse_std", "right", "left", "full"] = arg(
        "std", "GaLore: projection type."
    )
    galore_layerwise: bool = arg(False, "GaLore: layer-wise updates.")
    use_apollo: bool = arg(False, "Use the APOLLO optimizer.")
    apollo_target: str = arg("all", "APOLLO: target modules.")
    apollo_rank: int = arg(16, "APOLLO: rank.")
    apollo_update_interval: int = arg(200, "APOLLO: steps between projection updates.")
    apollo_scale: float = arg(32.0, "APOLLO: scale.")
    apollo_proj: Literal["svd", "random"] = arg("random", "APOLLO: projection.")
    apollo_proj_type: Literal["std", "right", "left"] = arg("std", "APOLLO: projection type.")
    apollo_scale_type: Literal["channel", "tensor"] = arg("channel", "APOLLO: scale type.")
    apollo_layerwise: bool = arg(False, "APOLLO: layer-wise updates.")
    apollo_scale_front: bool = arg(False, "APOLLO: scale before norm-growth limiting.")
    use_badam: bool = arg(False, "Use the BAdam optimizer.")
    badam_mode: Literal["layer", "ratio"] = arg("layer", "BAdam: mode.")
    badam_start_block: int | None = arg(None, "BAdam: first block.")
    badam_switch_mode: Literal["ascending", "descending", "random", "fixed"] | None = arg(
        "ascending", "BAdam: block switching order."
    )
    badam_switch_interval: int | None = arg(50, "BAdam: steps between block switches.")
    badam_update_ratio: float = arg(0.05, "BAdam: update ratio in ratio mode.")
    badam_mask_mode: Literal["adjacent", "scatter"] = arg("adjacent", "BAdam: mask mode.")
    badam_verbose: int = arg(0, "BAdam: verbosity.")

    # SwanLab
    use_swanlab: bool = arg(False, "Report to SwanLab.")
    swanlab_project: str | None = arg("llamafactory", "SwanLab: project.")
    swanlab_workspace: str | None = arg(None, "SwanLab: workspace.")
    swanlab_run_name: str | None = arg(None, "SwanLab: run name.")
    swanlab_mode: Literal["cloud", "local"] = arg("cloud", "SwanLab: mode.")
    swanlab_api_key: str | None = arg(None, "SwanLab: API key.")
    swanlab_logdir: str | None = arg(None, "SwanLab: log folder.")
    swanlab_lark_webhook_url: str | None = arg(None, "SwanLab: Lark webhook.")
    swanlab_lark_secret: str | None = arg(None, "SwanLab: Lark secret.")
