"""A config's data keys in the forms the data layer uses, and LLaMA-Factory's rules between them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import DataError
from .loader import LoadOptions
from .processors import ProcessOptions

if TYPE_CHECKING:
    from ..config import TrainConfig


def packing_on(config: TrainConfig) -> bool:
    return bool(config.packing or config.neat_packing)


def process_options(config: TrainConfig, tokenizer: Any = None) -> ProcessOptions:
    """LLaMA-Factory encodes to one token less when packing is asked for explicitly (or
    neat_packing is on): packed rows then come out exactly cutoff_len long."""
    explicit = ("packing" in config.model_fields_set and bool(config.packing)) or config.neat_packing
    eos_text = None
    if config.stage == "pt":
        eos_text = "<|end_of_text|>" if config.template == "llama3" else getattr(tokenizer, "eos_token", None)
    return ProcessOptions(
        cutoff_len=config.cutoff_len - 1 if explicit else config.cutoff_len,
        train_on_prompt=config.train_on_prompt,
        mask_history=config.mask_history,
        packing=packing_on(config),
        neat_packing=config.neat_packing,
        eos_text=eos_text,
    )


def load_options(config: TrainConfig, kind: str) -> LoadOptions:
    return LoadOptions(
        dataset_dir=config.dataset_dir,
        kind=kind,
        media_dir=config.media_dir,
        max_samples=config.max_samples,
        streaming=config.streaming,
        strict=config.strict,
    )


def check_data_config(config: TrainConfig) -> None:
    """LLaMA-Factory's rules between data keys, as errors naming the key."""
    if not config.dataset_names and not config.eval_dataset_names:
        raise DataError("dataset: no dataset given; name one or more datasets from dataset_info.json")
    if not config.dataset_names and config.val_size > 1e-6:
        raise DataError("val_size: needs dataset to split a validation set from")
    if config.eval_dataset_names and config.val_size > 1e-6:
        raise DataError(
            "val_size: cannot hold out a validation split when eval_dataset is given; set one of them"
        )
    if config.streaming and 0 < config.val_size < 1:
        raise DataError("val_size: with streaming, give a number of rows (an integer), not a fraction")
    if config.streaming and config.max_samples is not None:
        raise DataError("max_samples: cannot be used with streaming; remove one of them")
    if config.mask_history and config.train_on_prompt:
        raise DataError("mask_history: cannot be combined with train_on_prompt; set one of them")
    if config.interleave_probs and config.mix_strategy == "concat":
        raise DataError("interleave_probs: only used with mix_strategy interleave_under or interleave_over")
    if config.stage != "sft" and (config.train_on_prompt or config.mask_history or config.neat_packing):
        raise DataError(
            f"train_on_prompt, mask_history and neat_packing are for stage sft, not {config.stage}"
        )
