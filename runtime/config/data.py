"""Data keys: which datasets, how they are mixed, templated and tokenized."""

from __future__ import annotations

from typing import Literal

from .base import ArgGroup, arg


class DataArguments(ArgGroup):
    template: str | None = arg(
        None, "Chat template used to build prompts (e.g. qwen, llama3, chatml); default: the tokenizer's own."
    )
    dataset: str | list[str] | None = arg(
        None, "Training datasets, names from dataset_info.json, comma-separated."
    )
    eval_dataset: str | list[str] | None = arg(None, "Evaluation datasets, comma-separated.")
    dataset_dir: str = arg("data", "Folder holding dataset_info.json and the dataset files.")
    media_dir: str | None = arg(None, "Folder that relative image, video and audio paths resolve against.")
    cutoff_len: int = arg(2048, "Maximum number of tokens of one tokenized example.", gt=0)
    train_on_prompt: bool = arg(False, "Learn the prompt tokens too, not only the responses.")
    mask_history: bool = arg(False, "Learn only the last turn of multi-turn conversations.")
    streaming: bool = arg(False, "Stream the datasets instead of loading them whole.")
    buffer_size: int = arg(16384, "Shuffle buffer size when streaming.")
    mix_strategy: Literal["concat", "interleave_under", "interleave_over", "interleave_once"] = arg(
        "concat", "How several datasets are combined."
    )
    interleave_probs: str | None = arg(
        None, "Sampling probabilities of interleaved datasets, comma-separated."
    )
    overwrite_cache: bool = arg(False, "Tokenize again even if a cached result exists.")
    preprocessing_batch_size: int = arg(1000, "Examples per batch during preprocessing.")
    preprocessing_num_workers: int | None = arg(None, "Processes used for preprocessing.")
    max_samples: int | None = arg(None, "Use at most this many examples of each dataset.")
    eval_num_beams: int | None = arg(None, "Beams for generation during evaluation.")
    ignore_pad_token_for_loss: bool = arg(True, "Ignore padding tokens in the loss.")
    val_size: float = arg(
        0.0, "Hold out this fraction (<1) or number (>=1) of examples for evaluation.", ge=0
    )
    eval_on_each_dataset: bool = arg(False, "Evaluate each evaluation dataset separately.")
    packing: bool | None = arg(None, "Pack several examples into one sequence; on by default for stage pt.")
    neat_packing: bool = arg(False, "Pack without attention between the packed examples.")
    tool_format: str | None = arg(None, "Tool-call format used to render tools and function calls.")
    default_system: str | None = arg(None, "System prompt used when an example has none.")
    enable_thinking: bool | None = arg(True, "For reasoning templates: learn and generate think blocks.")
    preserve_thinking: bool = arg(False, "Keep think blocks of earlier turns in multi-turn conversations.")
    strict: bool = arg(
        False, "Stop at the first row that cannot be used instead of skipping it (KubeFactory)."
    )
    tokenized_path: str | None = arg(
        None, "Folder of the tokenized dataset: loaded when it exists, written after tokenizing otherwise."
    )
    data_shared_file_system: bool = arg(False, "Nodes share one file system for cached datasets.")
