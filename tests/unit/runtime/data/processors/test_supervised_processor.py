"""sft labels: prompts masked, answers learned, truncation and the mask_history/efficient_eos rules."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.runtime.data.example import Example, Message
from kubefactory.runtime.data.processors import ProcessOptions, make_processor
from kubefactory.runtime.data.processors.encoder import PieceEncoder
from kubefactory.runtime.data.processors.seqlen import infer_seqlen
from kubefactory.runtime.data.processors.supervised import IGNORE_INDEX as X
from kubefactory.runtime.data.processors.supervised import build_supervised
from kubefactory.runtime.data.templates import get_template

PAIRS = [([1, 2], [3, 4]), ([5], [6, 7])]


@pytest.mark.parametrize(
    ("options", "efficient_eos", "input_ids", "labels"),
    [
        (ProcessOptions(100), False, [1, 2, 3, 4, 5, 6, 7], [X, X, 3, 4, X, 6, 7]),
        (ProcessOptions(100, train_on_prompt=True), False, [1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7]),
        (ProcessOptions(100, mask_history=True), False, [1, 2, 3, 4, 5, 6, 7], [X, X, X, X, X, 6, 7]),
        # eos is appended once and learned; the eos ending an answer sits at the next prompt's start
        (ProcessOptions(100), True, [1, 2, 3, 4, 5, 6, 7, 99], [X, X, 3, 4, 99, 6, 7, 99]),
        # cutoff 5: the first turn takes 4; the second's budget of 1 goes to its prompt
        (ProcessOptions(5), False, [1, 2, 3, 4, 5], [X, X, 3, 4, X]),
        # mask_history fills the budget from the last turn: it survives whole, the first is cut
        (ProcessOptions(4, mask_history=True), False, [1, 5, 6, 7], [X, X, 6, 7]),
    ],
)
def test_build_supervised(
    options: ProcessOptions, efficient_eos: bool, input_ids: list[int], labels: list[int]
) -> None:
    assert build_supervised(PAIRS, options, efficient_eos, 99) == (input_ids, labels)


@pytest.mark.parametrize(
    ("source", "target", "cutoff", "expected"),
    [(10, 10, 100, (10, 10)), (100, 10, 50, (40, 10)), (10, 100, 50, (10, 40)), (60, 40, 50, (30, 20))],
)
def test_infer_seqlen_splits_the_budget(
    source: int, target: int, cutoff: int, expected: tuple[int, int]
) -> None:
    assert infer_seqlen(source, target, cutoff) == expected


def chat(*texts: str) -> Example:
    messages = [Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)]  # type: ignore[arg-type]
    return Example(messages[:-1], messages[-1:])


def test_processor_rows_match_the_single_example_encoding(tokenizer: Any) -> None:
    template = get_template("qwen")
    processor = make_processor(
        "supervised", template.bind(tokenizer), PieceEncoder(tokenizer), ProcessOptions(64)
    )
    batch = [chat("Hi", "Hello!"), None, chat("What is 2+2?", "4", "And 3+3?", "6")]
    columns = processor(batch)
    assert len(columns["input_ids"]) == 2  # the skipped row writes nothing
    for example, input_ids, labels in zip([batch[0], batch[2]], columns["input_ids"], columns["labels"]):
        pairs = template.encode_pairs(tokenizer, example.prompt + example.response)
        assert (input_ids, labels) == build_supervised(
            pairs, ProcessOptions(64), False, tokenizer.eos_token_id
        )
    assert columns["attention_mask"][0] == [1] * len(columns["input_ids"][0])
    assert columns["images"] == [None, None]


def test_learned_tokens_decode_to_the_answers(tokenizer: Any) -> None:
    processor = make_processor(
        "supervised", get_template("qwen").bind(tokenizer), PieceEncoder(tokenizer), ProcessOptions(256)
    )
    columns = processor([chat("Hi", "Hello!", "Bye", "See you.")])
    learned = [t for t in columns["labels"][0] if t != X]
    assert tokenizer.decode(learned) == "Hello!<|im_end|>\nSee you.<|im_end|>\n"
