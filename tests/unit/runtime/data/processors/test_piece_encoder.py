"""Batch encoding through the Rust tokenizer gives what tokenizer.encode gives, string by string."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubefactory.runtime.data.processors.encoder import PieceEncoder


def test_batch_encoding_equals_encode_on_demo_texts(tokenizer: Any, demo_data: Path) -> None:
    rows = json.loads((demo_data / "identity.json").read_text(encoding="utf-8"))
    texts = (
        [f"<|im_start|>user\n{r['instruction']}<|im_end|>\n" for r in rows]
        + [r["output"] for r in rows]
        + ["", " 100% ", "\n\n"]
    )
    encoder = PieceEncoder(tokenizer)
    assert encoder._backend is not None
    assert encoder.encode_texts(texts) == [tokenizer.encode(t, add_special_tokens=False) for t in texts]


def test_turns_keep_token_ids_between_texts(tokenizer: Any) -> None:
    encoder = PieceEncoder(tokenizer)
    assert encoder.encode_turns([["Hi", 7, "there"], [], [5]]) == [
        [
            *tokenizer.encode("Hi", add_special_tokens=False),
            7,
            *tokenizer.encode("there", add_special_tokens=False),
        ],
        [],
        [5],
    ]


def test_split_special_tokens_falls_back_to_the_tokenizer_call(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model, split_special_tokens=True)
    encoder = PieceEncoder(tokenizer)
    text = "<|im_start|>user"
    assert encoder.encode_texts([text]) == [tokenizer.encode(text, add_special_tokens=False)]
    assert len(encoder.encode_texts([text])[0]) > 2  # the special token was split into pieces
