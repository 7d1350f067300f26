"""Tool formats write tool lists and function calls as LLaMA-Factory 0.9.5 does."""

from __future__ import annotations

import json

import pytest
from kubefactory.runtime.data.errors import RowError
from kubefactory.runtime.data.templates import tools
from kubefactory.runtime.data.templates.tools import render_function_call, render_tools

TOOL = {
    "name": "get_weather",
    "description": "Weather of a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city."},
            "unit": {"type": "string", "description": "Unit.", "enum": ["C", "F"]},
            "days": {"type": "array", "description": "Days.", "items": {"type": "integer"}},
        },
        "required": ["city"],
    },
}
CALL = json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}})
CALLS = json.dumps([{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}])


def test_default_tools_describe_every_argument() -> None:
    text = render_tools("default", json.dumps([TOOL]))
    assert text == (
        "You have access to the following tools:\n"
        "> Tool Name: get_weather\nTool Description: Weather of a city.\nTool Args:\n"
        "  - city (string, required): The city.\n"
        "  - unit (string): Unit., should be one of [C, F]\n"
        "  - days (array): Days., where each item should be integer\n\n"
        "Use the following format if using a tool:\n```\n"
        "Action: tool name (one of [get_weather])\n"
        "Action Input: the input to the tool, in a JSON format representing the kwargs "
        '(e.g. ```{"input": "hello world", "num_beams": 5}```)\n```\n'
    )


def test_wrapped_and_bare_tools_read_the_same() -> None:
    wrapped = json.dumps([{"type": "function", "function": TOOL}])
    for name in ("default", "qwen", "llama3", "glm4", "mistral"):
        assert render_tools(name, wrapped) == render_tools(name, json.dumps([TOOL])), name


def test_qwen_tools_list_json_signatures() -> None:
    text = render_tools("qwen", json.dumps([TOOL]))
    assert text.startswith("\n\n# Tools\n\nYou may call one or more functions to assist with the user query.")
    assert (
        "<tools>\n" + json.dumps({"type": "function", "function": TOOL}, ensure_ascii=False) + "\n</tools>"
        in text
    )


def test_llama3_tools_carry_the_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "today", lambda: "01 Jan 2025")
    text = render_tools("llama3", json.dumps([TOOL]))
    assert text.startswith("Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n")
    assert text.endswith(
        json.dumps({"type": "function", "function": TOOL}, indent=4, ensure_ascii=False) + "\n\n"
    )


def test_glm4_and_mistral_tools() -> None:
    assert "## get_weather\n\n" + json.dumps(TOOL, indent=4, ensure_ascii=False) in render_tools(
        "glm4", json.dumps([TOOL])
    )
    wrapped = json.dumps([{"type": "function", "function": TOOL}], ensure_ascii=False)
    assert render_tools("mistral", json.dumps([TOOL])) == f"[AVAILABLE_TOOLS] {wrapped}[/AVAILABLE_TOOLS]"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("default", CALL, 'Action: get_weather\nAction Input: {"city": "Paris"}'),
        ("default", CALLS, 'Action: a\nAction Input: {"x": 1}\nAction: b\nAction Input: {}'),
        (
            "qwen",
            CALLS,
            '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>',
        ),
        ("llama3", CALL, '{"name": "get_weather", "parameters": {"city": "Paris"}}'),
        ("llama3", CALLS, '[{"name": "a", "parameters": {"x": 1}}, {"name": "b", "parameters": {}}]'),
        ("glm4", CALL, 'get_weather\n{"city": "Paris"}'),
        ("mistral", CALL, '[{"name": "get_weather", "arguments": {"city": "Paris"}}]'),
    ],
)
def test_function_calls(name: str, content: str, expected: str) -> None:
    assert render_function_call(name, content) == expected


def test_calls_inside_tool_call_words_keep_the_text_around_them() -> None:
    content = "Let me check.<tool_call>" + CALL + "</tool_call>"
    out = render_function_call(
        "qwen", content, ("<think>\n", "\n</think>\n\n"), ("<tool_call>", "</tool_call>")
    )
    assert (
        out
        == 'Let me check.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("{not json", "a function call is not valid JSON"),
        ('{"arguments": {}}', 'each function call needs "name" and "arguments"'),
    ],
)
def test_bad_function_calls_are_row_errors(call: str, message: str) -> None:
    with pytest.raises(RowError, match=message):
        render_function_call("default", call)


def test_glm4_cannot_write_parallel_calls() -> None:
    with pytest.raises(RowError, match="tool format glm4 cannot write parallel function calls"):
        render_function_call("glm4", CALLS)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[{", "the tools column is not valid JSON"),
        ('"a string"', "the tools column must be a JSON list of tool descriptions"),
        (
            '[{"description": "no name"}]',
            "a tool description lacks 'parameters'|a tool description lacks 'name'",
        ),
    ],
)
def test_bad_tool_lists_are_row_errors(value: str, message: str) -> None:
    with pytest.raises(RowError, match=message):
        render_tools("default", value)


def test_empty_tool_list_writes_nothing() -> None:
    assert render_tools("qwen", "[]") == ""
