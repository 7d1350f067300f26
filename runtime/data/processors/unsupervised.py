"""Generation (eval with predict_with_generate, ppo): the prompt as input_ids, the answer as labels."""

from __future__ import annotations

from collections.abc import Sequence

from ..example import Example, Message
from ..templates import BoundTemplate
from .base import Columns, ProcessOptions, empty_columns, media_column, ones
from .encoder import PieceEncoder
from .seqlen import infer_seqlen


class UnsupervisedProcessor:
    columns: tuple[str, ...] = ("input_ids", "attention_mask", "labels", "images", "videos", "audios")

    def __init__(self, bound: BoundTemplate, encoder: PieceEncoder, options: ProcessOptions) -> None:
        self.bound = bound
        self.encoder = encoder
        self.options = options

    def __call__(self, batch: Sequence[Example | None]) -> Columns:
        examples = [example for example in batch if example is not None]
        turns = []
        for example in examples:
            answer = example.response if len(example.response) == 1 else [Message("assistant", "")]
            turns += list(self.bound.oneturn([*example.prompt, *answer], example.system, example.tools))
        ids = iter(self.encoder.encode_turns(turns))
        eos = [self.bound.eos_token_id] if self.bound.template.efficient_eos else []
        columns = empty_columns(self.columns)
        for example in examples:
            input_ids, labels = next(ids), next(ids) + eos
            source_len, target_len = infer_seqlen(len(input_ids), len(labels), self.options.cutoff_len)
            input_ids = input_ids[:source_len]
            columns["input_ids"].append(input_ids)
            columns["attention_mask"].append(ones(len(input_ids)))
            columns["labels"].append(labels[:target_len])
            columns["images"].append(media_column(example.images))
            columns["videos"].append(media_column(example.videos))
            columns["audios"].append(media_column(example.audios))
        return columns
