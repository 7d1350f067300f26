"""pt blocks, pairwise pairs, KTO with KL pairs, prompt-only generation rows."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.runtime.data.example import Example, Message
from kubefactory.runtime.data.processors import ProcessOptions, kind_for, make_processor
from kubefactory.runtime.data.processors.encoder import PieceEncoder
from kubefactory.runtime.data.processors.supervised import IGNORE_INDEX
from kubefactory.runtime.data.templates import get_template
from kubefactory.runtime.errors import UserError

DOCS = ["The quick brown fox jumps over the lazy dog.", "Hello world.", "KubeFactory fine-tunes models."]


def text(doc: str) -> Example:
    return Example([Message("user", doc)], [])


def processor(kind: str, tokenizer: Any, options: ProcessOptions, template: str = "qwen") -> Any:
    return make_processor(kind, get_template(template).bind(tokenizer), PieceEncoder(tokenizer), options)


def test_pt_packing_concatenates_and_drops_the_remainder(tokenizer: Any) -> None:
    columns = processor("pretrain", tokenizer, ProcessOptions(8, packing=True, eos_text="<|im_end|>"))(
        [text(d) for d in DOCS]
    )
    stream = [t for d in DOCS for t in tokenizer.encode(d + "<|im_end|>", add_special_tokens=False)]
    assert columns["input_ids"] == [stream[i : i + 8] for i in range(0, len(stream) // 8 * 8, 8)]
    assert columns["attention_mask"] == [[1] * 8] * len(columns["input_ids"])


def test_pt_without_packing_truncates_each_document(tokenizer: Any) -> None:
    columns = processor("pretrain", tokenizer, ProcessOptions(5, eos_text="<|im_end|>"))(
        [text(d) for d in DOCS] + [None]
    )
    assert columns["input_ids"] == [
        tokenizer.encode(d + "<|im_end|>", add_special_tokens=False)[:5] for d in DOCS
    ]


def test_pairwise_rows_share_the_prompt(tokenizer: Any) -> None:
    example = Example(
        [Message("user", "Pick one")], [Message("assistant", "Good answer."), Message("assistant", "Bad.")]
    )
    columns = processor("pairwise", tokenizer, ProcessOptions(256))([example])
    prompt_len = columns["chosen_labels"][0].count(IGNORE_INDEX)
    assert columns["chosen_input_ids"][0][:prompt_len] == columns["rejected_input_ids"][0][:prompt_len]
    assert tokenizer.decode(columns["chosen_input_ids"][0][prompt_len:]) == "Good answer.<|im_end|>\n"
    assert tokenizer.decode(columns["rejected_input_ids"][0][prompt_len:]) == "Bad.<|im_end|>\n"


def test_pairwise_truncation_keeps_the_longer_answer_budget(tokenizer: Any) -> None:
    example = Example(
        [Message("user", "word " * 50)], [Message("assistant", "yes " * 30), Message("assistant", "no")]
    )
    columns = processor("pairwise", tokenizer, ProcessOptions(40))([example])
    assert len(columns["chosen_input_ids"][0]) <= 40
    assert columns["chosen_labels"][0].count(IGNORE_INDEX) == columns["rejected_labels"][0].count(
        IGNORE_INDEX
    )


def kto(question: str, answer: str, desirable: bool) -> Example:
    empty = Message("assistant", "")
    response = [Message("assistant", answer), empty] if desirable else [empty, Message("assistant", answer)]
    return Example([Message("user", question)], response)


def test_kto_pairs_each_prompt_with_the_previous_answer(tokenizer: Any) -> None:
    batch = [kto("Q1", "A1", True), kto("Q2", "A2", False), None, kto("Q3", "A3", True)]
    columns = processor("feedback", tokenizer, ProcessOptions(256))(batch)
    assert columns["kto_tags"] == [True, False, True]
    decoded = [tokenizer.decode(ids) for ids in columns["kl_input_ids"]]
    assert "Q1" in decoded[0] and decoded[0].endswith("A3<|im_end|>\n")  # the first takes the last's answer
    assert "Q2" in decoded[1] and decoded[1].endswith("A1<|im_end|>\n")
    assert "Q3" in decoded[2] and decoded[2].endswith("A2<|im_end|>\n")  # skipped rows are passed over
    assert tokenizer.decode(columns["input_ids"][1]).endswith("A2<|im_end|>\n")


def test_unsupervised_rows_are_prompt_and_answer(tokenizer: Any) -> None:
    example = Example([Message("user", "Hi")], [Message("assistant", "Hello")])
    columns = processor("unsupervised", tokenizer, ProcessOptions(256))(
        [example, Example([Message("user", "Only a prompt")], [])]
    )
    assert tokenizer.decode(columns["input_ids"][0]).endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(columns["labels"][0]) == "Hello<|im_end|>\n"
    assert tokenizer.decode(columns["labels"][1]) == "<|im_end|>\n"


def test_efficient_eos_adds_eos_to_pairwise_and_generation_labels(tokenizer: Any) -> None:
    example = Example([Message("user", "Hi")], [Message("assistant", "A"), Message("assistant", "B")])
    columns = processor("pairwise", tokenizer, ProcessOptions(256), template="falcon")([example])
    assert columns["chosen_input_ids"][0][-1] == tokenizer.eos_token_id


@pytest.mark.parametrize(
    ("stage", "generating", "kind"),
    [("pt", False, "pretrain"), ("sft", False, "supervised"), ("sft", True, "unsupervised"), ("dpo", False, "pairwise"),
     ("rm", False, "pairwise"), ("kto", False, "feedback"), ("ppo", False, "unsupervised")],
)  # fmt: skip
def test_stage_table(stage: str, generating: bool, kind: str) -> None:
    assert kind_for(stage, generating) == kind


def test_unknown_stage_is_named() -> None:
    with pytest.raises(UserError, match="stage: 'grpo' has no data processor; known: pt, sft, rm, dpo"):
        kind_for("grpo")
