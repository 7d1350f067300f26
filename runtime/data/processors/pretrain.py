"""pt: documents end with eos; with packing they are concatenated and cut into cutoff_len blocks
(the remainder of each batch is dropped), without it each is truncated to cutoff_len."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from ..example import Example
from .base import Columns, ProcessOptions, ones
from .encoder import PieceEncoder


class PretrainProcessor:
    columns: tuple[str, ...] = ("input_ids", "attention_mask")

    def __init__(self, encoder: PieceEncoder, options: ProcessOptions) -> None:
        self.encoder = encoder
        self.options = options
        tokenizer: Any = encoder.tokenizer
        self._eos_text = options.eos_text if options.eos_text is not None else str(tokenizer.eos_token)
        self._bos = tokenizer.bos_token if getattr(tokenizer, "add_bos_token", False) else None
        self._bos_id = tokenizer.bos_token_id if self._bos is not None else None

    def __call__(self, batch: Sequence[Example | None]) -> Columns:
        texts = [example.prompt[0].content + self._eos_text for example in batch if example is not None]
        cutoff = self.options.cutoff_len
        if not self.options.packing:
            if self._bos is not None:
                texts = [self._bos + text for text in texts]
            ids = [row[:cutoff] for row in self.encoder.encode_texts(texts)]
            return {"input_ids": ids, "attention_mask": [ones(len(row)) for row in ids]}
        joined = list(chain.from_iterable(self.encoder.encode_texts(texts)))
        usable = len(joined) // cutoff * cutoff
        blocks = [joined[start : start + cutoff] for start in range(0, usable, cutoff)]
        if self._bos_id is not None:
            for block in blocks:
                block[0] = self._bos_id
        return {"input_ids": blocks, "attention_mask": [ones(cutoff) for _ in blocks]}
