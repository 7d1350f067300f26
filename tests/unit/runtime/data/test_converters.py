"""alpaca, sharegpt and openai rows → examples; bad rows → reasons that name the message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubefactory.runtime.data.converters import (
    convert_alpaca,
    convert_openai,
    convert_sharegpt,
    converter_for,
)
from kubefactory.runtime.data.dataset_info import DatasetAttr
from kubefactory.runtime.data.errors import RowError


def attr(**values: Any) -> DatasetAttr:
    return DatasetAttr.model_validate({"name": "d", **values})


def roles(messages: list[Any]) -> list[str]:
    return [m.role for m in messages]


def texts(messages: list[Any]) -> list[str]:
    return [m.content for m in messages]


# alpaca ----------------------------------------------------------------------------------------


def test_alpaca_kto_tag_orders_the_answer_by_desirability() -> None:
    a = attr(columns={"kto_tag": "label"})
    assert texts(convert_alpaca({"instruction": "q", "output": "good", "label": True}, a).response) == [
        "good",
        "",
    ]
    assert texts(convert_alpaca({"instruction": "q", "output": "bad", "label": False}, a).response) == [
        "",
        "bad",
    ]


def test_alpaca_ranking_takes_chosen_and_rejected() -> None:
    a = attr(ranking=True, columns={"chosen": "chosen", "rejected": "rejected"})
    example = convert_alpaca({"instruction": "q", "chosen": "yes", "rejected": "no"}, a)
    assert texts(example.response) == ["yes", "no"]


def test_alpaca_tools_and_media_columns() -> None:
    a = attr(columns={"tools": "tools", "images": "images", "system": "sys"})
    example = convert_alpaca(
        {"instruction": "<image>q", "output": "a", "tools": [{"name": "f"}], "images": "x.png", "sys": "S"}, a
    )
    assert example.tools == '[{"name": "f"}]'
    assert example.images == ["x.png"]
    assert example.system == "S"


def test_alpaca_without_output_has_no_response() -> None:
    assert convert_alpaca({"instruction": "q"}, attr()).response == []


# sharegpt --------------------------------------------------------------------------------------


def sharegpt(messages: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    return {"conversations": [{"from": r, "value": v} for r, v in messages], **extra}


def test_sharegpt_leading_system_message_is_the_system() -> None:
    example = convert_sharegpt(
        sharegpt([("system", "S"), ("human", "q"), ("gpt", "a")]), attr(formatting="sharegpt")
    )
    assert example.system == "S"
    assert roles(example.prompt) == ["user"] and texts(example.response) == ["a"]


def test_sharegpt_function_call_and_observation_roles() -> None:
    rows = [("human", "q"), ("function_call", "{}"), ("observation", "r"), ("gpt", "a")]
    example = convert_sharegpt(sharegpt(rows), attr(formatting="sharegpt"))
    assert roles(example.prompt) == ["user", "function", "observation"]


def test_sharegpt_custom_tags() -> None:
    a = attr(formatting="sharegpt", columns={"messages": "messages"},
             tags={"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"})  # fmt: skip
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    assert texts(convert_sharegpt(row, a).prompt) == ["q"]


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        (
            [("human", "q"), ("gpt", "a"), ("gpt", "b"), ("gpt", "c")],
            "message 3 has role 'gpt' where 'human' or 'observation' is expected",
        ),
        (
            [("system", "S"), ("gpt", "a"), ("human", "q")],
            "message 2 has role 'gpt' where 'human' or 'observation' is expected",
        ),
        (
            [("human", "q"), ("human", "a")],
            "message 2 has role 'human' where 'gpt' or 'function_call' is expected",
        ),
        ([("human", "q"), ("gpt", "a"), ("human", "q2")], "3 messages: a conversation needs an even number"),
        (
            [("system", "S"), ("human", "q")],
            "1 messages after the system message: a conversation needs an even number",
        ),
    ],
)
def test_sharegpt_broken_conversations_say_which_message(
    messages: list[tuple[str, str]], reason: str
) -> None:
    with pytest.raises(RowError, match=reason.replace("(", r"\(")):
        convert_sharegpt(sharegpt(messages), attr(formatting="sharegpt"))


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"conversations": "hi"}, "column 'conversations' must be a list of messages, got str"),
        ({}, "column 'conversations' must be a list of messages, got missing"),
        ({"conversations": [{"value": "q"}]}, "message 1 has no 'from' key"),
        (
            {"conversations": [{"from": "human", "value": None}]},
            "message 1 needs a string 'value', got NoneType",
        ),
        ({"conversations": ["q"]}, "message 1 must be an object with 'from' and 'value'"),
    ],
)
def test_sharegpt_malformed_rows(row: dict[str, Any], reason: str) -> None:
    with pytest.raises(RowError, match=reason):
        convert_sharegpt(row, attr(formatting="sharegpt"))


def test_sharegpt_ranking_needs_an_odd_conversation_and_answer_objects() -> None:
    a = attr(formatting="sharegpt", ranking=True, columns={"chosen": "chosen", "rejected": "rejected"})
    row = sharegpt(
        [("human", "q")], chosen={"from": "gpt", "value": "y"}, rejected={"from": "gpt", "value": "n"}
    )
    example = convert_sharegpt(row, a)
    assert texts(example.prompt) == ["q"] and texts(example.response) == ["y", "n"]
    with pytest.raises(RowError, match="ranking rows need 'chosen' and 'rejected' messages"):
        convert_sharegpt(sharegpt([("human", "q")], chosen="y", rejected="n"), a)
    with pytest.raises(
        RowError, match="column 'chosen' has role 'human' where 'gpt' or 'function_call' is expected"
    ):
        convert_sharegpt(
            sharegpt(
                [("human", "q")],
                chosen={"from": "human", "value": "y"},
                rejected={"from": "gpt", "value": "n"},
            ),
            a,
        )
    with pytest.raises(RowError, match="2 messages: a ranking conversation needs an odd number"):
        convert_sharegpt(sharegpt([("human", "q"), ("gpt", "a")]), a)


def test_sharegpt_kto_rows() -> None:
    a = attr(formatting="sharegpt", columns={"kto_tag": "label"})
    example = convert_sharegpt(sharegpt([("human", "q"), ("gpt", "a")], label=False), a)
    assert texts(example.response) == ["", "a"]


# openai ----------------------------------------------------------------------------------------

OPENAI = attr(formatting="openai", columns={"messages": "messages", "tools": "tools"},
              tags={"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                    "observation_tag": "tool", "function_tag": "function_call", "system_tag": "system"})  # fmt: skip


def test_openai_tool_calls_become_a_function_message_and_tool_results_merge() -> None:
    call = {"name": "add", "arguments": '{"a": 1}'}
    row = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": call}]},
            {"role": "tool", "content": "1"},
            {"role": "tool", "content": "2"},
            {"role": "assistant", "content": "done"},
        ],
        "tools": [{"name": "add"}],
    }
    example = convert_openai(row, OPENAI)
    assert roles(example.prompt) == ["user", "function", "observation"]
    assert example.prompt[1].content == json.dumps([call])
    assert example.prompt[2].content == "1\n</tool_response>\n<tool_response>\n2"
    assert example.tools == '[{"name": "add"}]'
    assert example.system == ""  # with tools and no system, LLaMA-Factory leaves it empty


@pytest.mark.parametrize(
    ("system", "tools", "expected"),
    [
        ("", None, "detailed thinking off"),
        ("Be kind.", None, "Be kind.\ndetailed thinking off"),
        ("detailed thinking on", None, "detailed thinking on"),
        ("Be kind.", [{"name": "f"}], "Be kind.\n"),
    ],
)
def test_openai_system_prompt_as_llamafactory_writes_it(system: str, tools: Any, expected: str) -> None:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    assert convert_openai({"messages": messages, "tools": tools}, OPENAI).system == expected


def test_openai_misplaced_turn_names_the_turn() -> None:
    row = {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]}
    with pytest.raises(RowError, match="turn 1 \\(after merging tool results\\) is a 'assistant' message"):
        convert_openai(row, OPENAI)


def test_openai_tool_calls_without_function_objects() -> None:
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [{"id": 1}]}]}
    with pytest.raises(RowError, match="message 2: every tool_calls item needs a 'function' object"):
        convert_openai(row, OPENAI)


def test_converter_for_each_formatting() -> None:
    assert converter_for(attr(formatting="openai")) is convert_openai
    assert converter_for(attr()) is convert_alpaca


def test_alpaca_history_must_hold_strings() -> None:
    a = attr(columns={"history": "history"})
    with pytest.raises(RowError, match="column 'history' item 1 must hold two strings"):
        convert_alpaca({"instruction": "q", "output": "a", "history": [["q0", "a0"], ["q1", 5]]}, a)


def test_tools_column_of_the_wrong_type() -> None:
    with pytest.raises(RowError, match="column 'tools' must hold tools as a JSON string or list, got int"):
        convert_alpaca({"instruction": "q", "output": "a", "tools": 3}, attr(columns={"tools": "tools"}))
