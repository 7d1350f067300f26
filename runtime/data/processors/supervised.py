"""sft: prompt tokens are labelled IGNORE_INDEX, every assistant turn is learned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..example import Example
from ..templates.template import Turn
from .base import IGNORE_INDEX, Columns, ProcessOptions, empty_columns, media_column, ones
from .encoder import PieceEncoder
from .seqlen import infer_seqlen

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..templates import BoundTemplate, Template

__all__ = [
    "IGNORE_INDEX",
    "SupervisedOptions",
    "SupervisedProcessor",
    "build_supervised",
    "encode_supervised",
]


@dataclass(frozen=True)
class SupervisedOptions:
    cutoff_len: int
    train_on_prompt: bool = False
    mask_history: bool = False


def build_supervised(
    pairs: list[tuple[list[int], list[int]]],
    options: SupervisedOptions | ProcessOptions,
    efficient_eos: bool,
    eos_id: int,
) -> tuple[list[int], list[int]]:
    """input_ids and labels from (prompt ids, answer ids) per turn, truncated to cutoff_len turn by
    turn; with mask_history the last turns come first, so they are the ones that survive."""
    total = 1 if efficient_eos else 0
    if options.mask_history:
        pairs = pairs[::-1]
    input_ids: list[int] = []
    labels: list[int] = []
    for turn, (source, target) in enumerate(pairs):
        if total >= options.cutoff_len:
            break
        source_len, target_len = infer_seqlen(len(source), len(target), options.cutoff_len - total)
        source, target = source[:source_len], target[:target_len]
        total += source_len + target_len
        if options.train_on_prompt:
            source_labels = source
        elif efficient_eos and turn != 0:
            # the eos that ended the previous answer sits here, at the start of this prompt
            source_labels = [eos_id] + [IGNORE_INDEX] * (source_len - 1)
        else:
            source_labels = [IGNORE_INDEX] * source_len
        target_labels = [IGNORE_INDEX] * target_len if options.mask_history and turn != 0 else target
        if options.mask_history:
            input_ids = source + target + input_ids
            labels = source_labels + target_labels + labels
        else:
            input_ids += source + target
            labels += source_labels + target_labels
    if efficient_eos:
        input_ids.append(eos_id)
        labels.append(eos_id)
    return input_ids, labels


class SupervisedProcessor:
    columns: tuple[str, ...] = ("input_ids", "attention_mask", "labels", "images", "videos", "audios")

    def __init__(self, bound: BoundTemplate, encoder: PieceEncoder, options: ProcessOptions) -> None:
        self.bound = bound
        self.encoder = encoder
        self.options = options
        self._discard_history_cot = options.mask_history and not bound.template.preserve_thinking

    def encode(self, batch: Sequence[Example | None]) -> list[tuple[Example, list[int], list[int]] | None]:
        """(example, input_ids, labels) per row, None for skipped rows."""
        rendered: list[int] = []
        turns: list[Turn] = []
        for example in batch:
            if example is None:
                rendered.append(0)
                continue
            rendered_pairs = self.bound.multiturn(
                example.prompt + example.response, example.system, example.tools, self._discard_history_cot
            )
            rendered.append(len(rendered_pairs))
            for source, target in rendered_pairs:
                turns += [source, target]
        ids = iter(self.encoder.encode_turns(turns))
        eos = self.bound.eos_token_id
        efficient_eos = self.bound.template.efficient_eos
        out: list[tuple[Example, list[int], list[int]] | None] = []
        for example, count in zip(batch, rendered):
            if example is None:
                out.append(None)
                continue
            pairs = [(next(ids), next(ids)) for _ in range(count)]
            input_ids, labels = build_supervised(pairs, self.options, efficient_eos, eos)
            out.append((example, input_ids, labels))
        return out

    def __call__(self, batch: Sequence[Example | None]) -> Columns:
        columns = empty_columns(self.columns)
        for item in self.encode(batch):
            if item is None:
                continue
            example, input_ids, labels = item
            columns["input_ids"].append(input_ids)
            columns["attention_mask"].append(ones(len(input_ids)))
            columns["labels"].append(labels)
            columns["images"].append(media_column(example.images))
            columns["videos"].append(media_column(example.videos))
            columns["audios"].append(media_column(example.audios))
        return columns


def encode_supervised(
    example: Example, template: Template, tokenizer: PreTrainedTokenizerBase, options: SupervisedOptions
) -> tuple[list[int], list[int]]:
    """input_ids and labels of one sft example (the single-example API)."""
    pairs = template.encode_pairs(tokenizer, example.prompt + example.response, example.system, example.tools)
    eos = tokenizer.eos_token_id
    return build_supervised(pairs, options, template.efficient_eos, int(eos) if eos is not None else 0)
