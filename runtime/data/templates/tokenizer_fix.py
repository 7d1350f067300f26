"""Make a tokenizer agree with a template: its eos is the template's stop word, pad exists."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .template import Template

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)


def _set_eos(tokenizer: PreTrainedTokenizerBase, eos_token: str) -> None:
    if tokenizer.eos_token == eos_token:
        return
    added = tokenizer.add_special_tokens({"eos_token": eos_token})
    if added:
        log.warning("added new eos token %s: the model's embeddings must be resized", eos_token)


def fix_tokenizer(tokenizer: PreTrainedTokenizerBase, template: Template) -> None:
    stop_words = list(template.stop_words)
    if template.replace_eos:
        if not stop_words:
            raise ValueError(f"template '{template.name}' replaces eos but has no stop words")
        _set_eos(tokenizer, stop_words.pop(0))
    if tokenizer.eos_token_id is None:
        _set_eos(tokenizer, "<|endoftext|>")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if stop_words:
        tokenizer.add_special_tokens(
            {"extra_special_tokens": stop_words},  # type: ignore[dict-item]
            replace_extra_special_tokens=False,
        )
