"""kto: each example with its desirability tag, plus a KL pair: its prompt with the answer of the
example before it in the batch (the first takes the last's), as LLaMA-Factory pairs them."""

from __future__ import annotations

from collections.abc import Sequence

from ..example import Example, Message
from ..templates import BoundTemplate
from .base import IGNORE_INDEX, Columns, ProcessOptions, empty_columns, media_column, ones
from .encoder import PieceEncoder
from .seqlen import infer_seqlen


def _answer(response: list[Message]) -> tuple[Message, bool]:
    """KTO responses are [answer, ""] when desirable and ["", answer] when not."""
    return (response[0], True) if response[0].content else (response[1], False)


def _previous_valid(batch: Sequence[Example | None], index: int) -> Example | None:
    for step in range(1, len(batch) + 1):
        candidate = batch[(index - step) % len(batch)]
        if candidate is not None:
            return candidate
    return None


class FeedbackProcessor:
    columns: tuple[str, ...] = (
        "input_ids", "attention_mask", "labels",
        "kl_input_ids", "kl_attention_mask", "kl_labels", "kto_tags",
        "images", "videos", "audios",
    )  # fmt: skip

    def __init__(self, bound: BoundTemplate, encoder: PieceEncoder, options: ProcessOptions) -> None:
        self.bound = bound
        self.encoder = encoder
        self.options = options

    def __call__(self, batch: Sequence[Example | None]) -> Columns:
        rows = []
        turns = []
        for index, example in enumerate(batch):
            if example is None:
                continue
            partner = _previous_valid(batch, index) or example
            answer, tag = _answer(example.response)
            kl_answer, _ = _answer(partner.response)
            turns += list(self.bound.oneturn([*example.prompt, answer], example.system, example.tools))
            turns += list(self.bound.oneturn([*example.prompt, kl_answer], example.system, example.tools))
            rows.append((example, tag))
        ids = iter(self.encoder.encode_turns(turns))
        eos = [self.bound.eos_token_id] if self.bound.template.efficient_eos else []
        columns = empty_columns(self.columns)
        for example, tag in rows:
            for prefix in ("", "kl_"):
                prompt_ids, answer_ids = next(ids), next(ids) + eos
                source_len, target_len = infer_seqlen(
                    len(prompt_ids), len(answer_ids), self.options.cutoff_len
                )
                input_ids = prompt_ids[:source_len] + answer_ids[:target_len]
                columns[f"{prefix}input_ids"].append(input_ids)
                columns[f"{prefix}attention_mask"].append(ones(len(input_ids)))
                columns[f"{prefix}labels"].append([IGNORE_INDEX] * source_len + answer_ids[:target_len])
            columns["kto_tags"].append(tag)
            columns["images"].append(media_column(example.images))
            columns["videos"].append(media_column(example.videos))
            columns["audios"].append(media_column(example.audios))
        return columns
