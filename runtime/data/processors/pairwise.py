"""rm, dpo, orpo, simpo: the prompt followed by the chosen answer, and by the rejected one."""

from __future__ import annotations

from collections.abc import Sequence

from ..example import Example
from ..templates import BoundTemplate
from .base import IGNORE_INDEX, Columns, ProcessOptions, empty_columns, media_column, ones
from .encoder import PieceEncoder
from .seqlen import infer_seqlen


class PairwiseProcessor:
    columns: tuple[str, ...] = (
        "chosen_input_ids", "chosen_attention_mask", "chosen_labels",
        "rejected_input_ids", "rejected_attention_mask", "rejected_labels",
        "images", "videos", "audios",
    )  # fmt: skip

    def __init__(self, bound: BoundTemplate, encoder: PieceEncoder, options: ProcessOptions) -> None:
        self.bound = bound
        self.encoder = encoder
        self.options = options

    def __call__(self, batch: Sequence[Example | None]) -> Columns:
        examples = [example for example in batch if example is not None]
        turns = []
        for example in examples:
            prompt, chosen = self.bound.oneturn(
                [*example.prompt, example.response[0]], example.system, example.tools
            )
            _, rejected = self.bound.oneturn(
                [*example.prompt, example.response[1]], example.system, example.tools
            )
            turns += [prompt, chosen, rejected]
        ids = iter(self.encoder.encode_turns(turns))
        columns = empty_columns(self.columns)
        eos = [self.bound.eos_token_id] if self.bound.template.efficient_eos else []
        for example in examples:
            prompt_ids, chosen_ids, rejected_ids = next(ids), next(ids) + eos, next(ids) + eos
            # the answers matter more: the longer one decides how much of the prompt is kept
            source_len, target_len = infer_seqlen(
                len(prompt_ids), max(len(chosen_ids), len(rejected_ids)), self.options.cutoff_len
            )
            prompt_ids = prompt_ids[:source_len]
            for name, answer in (
                ("chosen", chosen_ids[:target_len]),
                ("rejected", rejected_ids[:target_len]),
            ):
                columns[f"{name}_input_ids"].append(prompt_ids + answer)
                columns[f"{name}_attention_mask"].append(ones(source_len + len(answer)))
                columns[f"{name}_labels"].append([IGNORE_INDEX] * source_len + answer)
            columns["images"].append(media_column(example.images))
            columns["videos"].append(media_column(example.videos))
            columns["audios"].append(media_column(example.audios))
        return columns
