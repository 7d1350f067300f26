"""The first journey's data path: alpaca rows → messages → templated ids with sft labels."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.runtime.data.converters import RowError, convert_alpaca
from kubefactory.runtime.data.dataset_info import DatasetAttr
from kubefactory.runtime.data.example import Example, Message
from kubefactory.runtime.data.processors.seqlen import infer_seqlen
from kubefactory.runtime.data.processors.supervised import IGNORE_INDEX, SupervisedOptions, encode_supervised
from kubefactory.runtime.data.templates import get_template
from kubefactory.runtime.data.templates.tokenizer_fix import fix_tokenizer

ALPACA = DatasetAttr(name="t", columns={"history": "history", "system": "system"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("row", "prompt", "response", "system"),
    [
        ({"instruction": "Hi", "input": "there", "output": "Yo"}, ["Hi\nthere"], ["Yo"], ""),
        ({"instruction": "Hi", "input": "", "output": "Yo"}, ["Hi"], ["Yo"], ""),
        ({"instruction": "Hi", "output": "Yo"}, ["Hi"], ["Yo"], ""),  # no input column at all
        ({"instruction": "Hi", "input": None, "output": "Yo", "system": "S"}, ["Hi"], ["Yo"], "S"),
        (
            {"instruction": "Q2", "output": "A2", "history": [["Q1", "A1"]]},
            ["Q1", "A1", "Q2"],
            ["A2"],
            "",
        ),
    ],
)
def test_alpaca_conversion(row: dict[str, Any], prompt: list[str], response: list[str], system: str) -> None:
    example = convert_alpaca(row, ALPACA)
    assert [m.content for m in example.prompt] == prompt
    assert [m.role for m in example.prompt] == ["user", "assistant"] * (len(prompt) // 2) + ["user"]
    assert [m.content for m in example.response] == response
    assert example.system == system


def test_alpaca_bad_history_names_the_column() -> None:
    with pytest.raises(RowError, match="column 'history' item 0 must be a \\[prompt, response\\] pair"):
        convert_alpaca({"instruction": "q", "output": "a", "history": ["oops"]}, ALPACA)


def test_alpaca_non_string_names_the_column() -> None:
    with pytest.raises(RowError, match="column 'instruction' must be a string, got int"):
        convert_alpaca({"instruction": 3, "output": "a"}, ALPACA)


CHATML_JINJA = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

CONVERSATIONS = [
    [{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "I am a tiny model."}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "4"},
    ],
]


def _encode(template_name: str, tokenizer: Any, conversation: list[dict[str, str]]) -> list[int]:
    template = get_template(template_name)
    system = conversation[0]["content"] if conversation[0]["role"] == "system" else ""
    messages = [Message(m["role"], m["content"]) for m in conversation if m["role"] != "system"]  # type: ignore[arg-type]
    return [i for turn in template.encode_turns(tokenizer, messages, system) for i in turn]


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=["single-turn", "multi-turn"])
@pytest.mark.parametrize(("template_name", "jinja"), [("qwen", None), ("chatml", CHATML_JINJA)])
def test_template_matches_its_jinja_twin(
    tiny_tokenizer: Any, template_name: str, jinja: str | None, conversation: list[dict[str, str]]
) -> None:
    """qwen is checked against the tiny tokenizer's own Qwen-style template, chatml against ChatML."""
    text = tiny_tokenizer.apply_chat_template(conversation, tokenize=False, chat_template=jinja)
    expected = tiny_tokenizer.encode(text, add_special_tokens=False)
    assert _encode(template_name, tiny_tokenizer, conversation) == expected


@pytest.mark.parametrize(
    ("template_name", "expected"),
    [
        ("default", "System: S<|im_end|>\nHuman: Q<|im_end|>\nAssistant:A<|im_end|>\n"),
        ("empty", "QA"),  # no eos: LLaMA-Factory's empty template learns none
        (
            "chatml",
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n",
        ),
    ],
)
def test_templates_without_an_official_jinja_render_as_llamafactory(
    tiny_tokenizer: Any, template_name: str, expected: str
) -> None:
    ids = _encode(template_name, tiny_tokenizer, [
        {"role": "system", "content": "S"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"},
    ])  # fmt: skip
    # `empty` has no system slot text of its own: the system text goes first, as plain content
    text = tiny_tokenizer.decode(ids, skip_special_tokens=False)
    assert text == (expected if template_name != "empty" else "S" + expected)


def test_fix_tokenizer_makes_stop_word_the_eos(tiny_tokenizer: Any) -> None:
    from copy import deepcopy

    tokenizer = deepcopy(tiny_tokenizer)
    tokenizer.eos_token = "<|endoftext|>"
    fix_tokenizer(tokenizer, get_template("qwen"))
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token is not None


def _example(*turns: str) -> Example:
    messages = [Message("user" if i % 2 == 0 else "assistant", text) for i, text in enumerate(turns)]  # type: ignore[arg-type]
    return Example(prompt=messages[:-1], response=messages[-1:])


def test_sft_labels_mask_every_prompt_and_learn_every_answer(tiny_tokenizer: Any) -> None:
    template = get_template("qwen")
    example = _example("Q1", "A1", "Q2", "A2")
    ids, labels = encode_supervised(example, template, tiny_tokenizer, SupervisedOptions(cutoff_len=1024))
    pairs = template.encode_pairs(tiny_tokenizer, example.prompt + example.response, "", "")
    expected: list[int] = []
    for source, target in pairs:
        expected += [IGNORE_INDEX] * len(source) + target
    assert labels == expected
    assert ids == [i for source, target in pairs for i in source + target]
    learned = tiny_tokenizer.decode([t for t in labels if t != IGNORE_INDEX])
    assert learned == "A1<|im_end|>\nA2<|im_end|>\n"


def test_train_on_prompt_learns_everything(tiny_tokenizer: Any) -> None:
    options = SupervisedOptions(cutoff_len=1024, train_on_prompt=True)
    ids, labels = encode_supervised(_example("Q", "A"), get_template("qwen"), tiny_tokenizer, options)
    assert labels == ids


def test_mask_history_learns_only_the_last_turn(tiny_tokenizer: Any) -> None:
    options = SupervisedOptions(cutoff_len=1024, mask_history=True)
    _, labels = encode_supervised(
        _example("Q1", "A1", "Q2", "A2"), get_template("qwen"), tiny_tokenizer, options
    )
    assert tiny_tokenizer.decode([t for t in labels if t != IGNORE_INDEX]) == "A2<|im_end|>\n"


@pytest.mark.parametrize(
    ("source", "target", "cutoff", "expected"),
    [
        (10, 5, 100, (10, 5)),  # fits
        (100, 10, 50, (40, 10)),  # short answer kept whole, prompt cut
        (10, 100, 50, (10, 40)),  # short prompt kept whole, answer cut
        (100, 300, 100, (25, 75)),  # both long: cut in proportion
    ],
)
def test_infer_seqlen(source: int, target: int, cutoff: int, expected: tuple[int, int]) -> None:
    assert infer_seqlen(source, target, cutoff) == expected


def test_cutoff_len_truncates_to_exactly_cutoff(tiny_tokenizer: Any) -> None:
    long = " ".join(["word"] * 200)
    ids, labels = encode_supervised(
        _example(long, long), get_template("qwen"), tiny_tokenizer, SupervisedOptions(64)
    )
    assert len(ids) == len(labels) == 64
    assert any(t != IGNORE_INDEX for t in labels)
