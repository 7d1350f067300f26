"""sft: prompt tokens are labelled IGNORE_INDEX, every assistant turn is learned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..example import Example
from .seqlen import infer_seqlen

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..templates import Template

IGNORE_INDEX = -100


@dataclass(frozen=True)
class SupervisedOptions:
    cutoff_len: int
    train_on_prompt: bool = False
    mask_history: bool = False


def encode_supervised(
    example: Example, template: Template, tokenizer: PreTrainedTokenizerBase, options: SupervisedOptions
) -> tuple[list[int], list[int]]:
    """input_ids and labels of one sft example, truncated to cutoff_len turn by turn."""
    pairs = template.encode_pairs(tokenizer, example.prompt + example.response, example.system, example.tools)
    eos_id = tokenizer.eos_token_id
    total = 1 if template.efficient_eos else 0
    if options.mask_history:
        pairs = pairs[::-1]  # the last turns are kept first when truncating
    input_ids: list[int] = []
    labels: list[int] = []
    for turn, (source, target) in enumerate(pairs):
        if total >= options.cutoff_len:
            break
        source_len, target_len = infer_seqlen(len(source), len(target), options.cutoff_len - total)
        source, target = source[:source_len], target[:target_len]
        total += source_len + target_len
        if options.train_on_prompt:
            source_labels = list(source)
        elif template.efficient_eos and turn != 0:
            source_labels = [eos_id] + [IGNORE_INDEX] * (source_len - 1)
        else:
            source_labels = [IGNORE_INDEX] * source_len
        target_labels = [IGNORE_INDEX] * target_len if options.mask_history and turn != 0 else list(target)
        if options.mask_history:
            input_ids = source + target + input_ids
            labels = source_labels + target_labels + labels
        else:
            input_ids += source + target
            labels += source_labels + target_labels
    if template.efficient_eos:
        input_ids.append(eos_id)
        labels.append(eos_id)
    return input_ids, labels
