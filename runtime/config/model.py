"""Model keys: where the model comes from, how it is loaded, quantized and served."""

from __future__ import annotations

from typing import Any, Literal

from .base import ArgGroup, arg


class ModelArguments(ArgGroup):
    model_name_or_path: str | None = arg(
        None,
        "Base model: a local folder, a hub id served from the local hub cache, or a pvc:// or s3:// URI.",
    )
    adapter_name_or_path: str | None = arg(
        None, "Adapters to load on top of the base model, comma-separated, merged in order."
    )
    adapter_folder: str | None = arg(None, "Folder holding adapter weights to load.")
    cache_dir: str | None = arg(None, "Where downloaded models and tokenizers are cached.")
    use_fast_tokenizer: bool = arg(True, "Use the fast (Rust) tokenizer.")
    resize_vocab: bool = arg(False, "Resize the embeddings to the tokenizer's vocabulary size.")
    split_special_tokens: bool = arg(False, "Let the tokenizer split special tokens into pieces.")
    add_tokens: str | None = arg(None, "Plain tokens to add to the tokenizer, comma-separated.")
    add_special_tokens: str | None = arg(None, "Special tokens to add to the tokenizer, comma-separated.")
    new_special_tokens_config: str | None = arg(None, "YAML file describing new special tokens to add.")
    init_special_tokens: Literal["noise_init", "desc_init", "desc_init_w_noise"] = arg(
        "noise_init", "How embeddings of new special tokens are initialised."
    )
    model_revision: str = arg("main", "Model revision: a branch, tag or commit id.")
    low_cpu_mem_usage: bool = arg(True, "Load the model with low CPU memory usage.")
    rope_scaling: Literal["linear", "dynamic", "yarn", "llama3"] | None = arg(
        None, "RoPE scaling strategy used to extend the context length."
    )
    flash_attn: Literal["auto", "disabled", "sdpa", "fa2", "fa3"] = arg(
        "auto", "Attention implementation: auto, disabled (eager), sdpa, fa2 or fa3 (FlashAttention)."
    )
    shift_attn: bool = arg(False, "Use shifted sparse attention (S^2-Attn) from LongLoRA.")
    mixture_of_depths: Literal["convert", "load"] | None = arg(
        None, "Convert the model to mixture-of-depths, or load a converted one."
    )
    use_unsloth: bool = arg(False, "Use unsloth's optimised LoRA training when installed.")
    use_unsloth_gc: bool = arg(False, "Use unsloth's gradient checkpointing.")
    enable_liger_kernel: bool = arg(False, "Patch the model with Liger kernels when installed.")
    moe_aux_loss_coef: float | None = arg(None, "Coefficient of the auxiliary router loss of MoE models.")
    disable_gradient_checkpointing: bool = arg(False, "Turn gradient checkpointing off.")
    use_reentrant_gc: bool = arg(True, "Use reentrant gradient checkpointing.")
    upcast_layernorm: bool = arg(False, "Keep layer norm weights in float32.")
    upcast_lmhead_output: bool = arg(False, "Compute the LM head output in float32.")
    train_from_scratch: bool = arg(False, "Initialise the weights randomly instead of loading them.")
    infer_backend: Literal["huggingface", "vllm", "sglang", "ktransformers"] = arg(
        "huggingface", "Inference engine for chat, api and serving."
    )
    offload_folder: str = arg("offload", "Folder for weights offloaded to disk.")
    use_kv_cache: bool = arg(True, "Use the KV cache during generation.")
    use_v1_kernels: bool | None = arg(False, "Use LLaMA-Factory v1 kernels (accepted, not used).")
    infer_dtype: Literal["auto", "float16", "bfloat16", "float32"] = arg(
        "auto", "Data type of weights and activations at inference."
    )
    hf_hub_token: str | None = arg(None, "Token for the Hugging Face hub.")
    ms_hub_token: str | None = arg(None, "Token for the ModelScope hub.")
    om_hub_token: str | None = arg(None, "Token for the Modelers hub.")
    print_param_status: bool = arg(False, "Log every parameter's dtype, device and trainability.")
    trust_remote_code: bool = arg(False, "Allow model and tokenizer code shipped with the checkpoint to run.")
    model_max_length: int | None = arg(None, "Maximum sequence length of the tokenizer.")
    device_map: str | dict[str, Any] | None = arg(None, "Device map used to place the model's layers.")
    block_diag_attn: bool = arg(False, "Block-diagonal attention for packed sequences.")

    # quantization
    quantization_method: Literal["bnb", "gptq", "awq", "aqlm", "quanto", "eetq", "hqq", "mxfp4", "fp8"] = arg(
        "bnb", "Library used for on-the-fly quantization."
    )
    quantization_bit: int | None = arg(None, "Quantize the model on the fly to this many bits (4 or 8).")
    quantization_type: Literal["fp4", "nf4"] = arg("nf4", "4-bit quantization data type of bitsandbytes.")
    double_quantization: bool = arg(True, "Use double quantization in 4-bit bitsandbytes training.")
    quantization_device_map: Literal["auto"] | None = arg(None, "Device map for quantized inference.")

    # multimodal processors
    image_max_pixels: int = arg(768 * 768, "Maximum number of pixels of an image input.")
    image_min_pixels: int = arg(32 * 32, "Minimum number of pixels of an image input.")
    image_do_pan_and_scan: bool = arg(False, "Pan and scan images (Gemma 3).")
    crop_to_patches: bool = arg(False, "Crop images into patches (InternVL).")
    video_max_pixels: int = arg(256 * 256, "Maximum number of pixels of a video frame.")
    video_min_pixels: int = arg(16 * 16, "Minimum number of pixels of a video frame.")
    video_fps: float = arg(2.0, "Frames sampled per second of video.")
    video_maxlen: int = arg(128, "Maximum number of frames sampled from a video.")
    use_audio_in_video: bool = arg(False, "Use the audio track of videos.")
    audio_sampling_rate: int = arg(16000, "Sampling rate of audio inputs.")

    # vLLM and SGLang engines
    vllm_maxlen: int = arg(4096, "vLLM: maximum sequence length (prompt plus output).")
    vllm_gpu_util: float = arg(0.7, "vLLM: fraction of accelerator memory to use, between 0 and 1.")
    vllm_enforce_eager: bool = arg(False, "vLLM: disable CUDA graphs.")
    vllm_max_lora_rank: int = arg(32, "vLLM: highest LoRA rank to serve.")
    vllm_config: dict[str, Any] | str | None = arg(
        None, "vLLM: extra engine arguments, a mapping or JSON string."
    )
    sglang_maxlen: int = arg(4096, "SGLang: maximum context length.")
    sglang_mem_fraction: float = arg(0.7, "SGLang: fraction of accelerator memory for static allocation.")
    sglang_tp_size: int = arg(-1, "SGLang: tensor parallel size; -1 uses every visible accelerator.")
    sglang_config: dict[str, Any] | str | None = arg(
        None, "SGLang: extra server arguments, a mapping or JSON string."
    )
    sglang_lora_backend: Literal["triton", "flashinfer"] = arg("triton", "SGLang: LoRA kernel backend.")

    # KTransformers
    use_kt: bool = arg(False, "Use KTransformers (accepted, not supported by KubeFactory).")
    kt_weight_path: str | None = arg(None, "KTransformers: weight path.")
    kt_expert_checkpoint_path: str | None = arg(None, "KTransformers: expert checkpoint path.")
    kt_use_lora_experts: bool | None = arg(None, "KTransformers: train LoRA experts.")
    kt_lora_expert_num: int | None = arg(None, "KTransformers: number of LoRA experts.")
    kt_lora_expert_intermediate_size: int | None = arg(None, "KTransformers: LoRA expert intermediate size.")


class ExportArguments(ArgGroup):
    export_dir: str | None = arg(None, "Folder the merged (exported) model is written to.")
    export_size: int = arg(5, "Maximum size of one safetensors shard of the exported model, in GB.")
    export_device: Literal["cpu", "auto"] = arg("cpu", "Device used to merge adapters at export.")
    export_quantization_bit: int | None = arg(None, "Quantize the exported model to this many bits (GPTQ).")
    export_quantization_dataset: str | None = arg(None, "Calibration dataset for export quantization.")
    export_quantization_nsamples: int = arg(128, "Number of calibration samples for export quantization.")
    export_quantization_maxlen: int = arg(1024, "Maximum length of calibration samples.")
    export_legacy_format: bool = arg(False, "Save .bin files instead of safetensors.")
    export_hub_model_id: str | None = arg(None, "Hub repository to push the exported model to.")
