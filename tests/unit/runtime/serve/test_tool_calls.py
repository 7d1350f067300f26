"""Tool calls written by each tool format's writer parse back to the same calls."""

from __future__ import annotations

import json

import pytest
from kubefactory.runtime.data.templates.tools import TOOL_FORMATS, render_function_call
from kubefactory.runtime.serve.tool_calls import PARSERS, ToolCall, parse_tool_calls

WEATHER = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 2}}
TIME = {"name": "get_time", "arguments": {"zone": "Europe/Paris"}}


def test_every_tool_format_has_a_parser() -> None:
    assert set(TOOL_FORMATS) <= set(PARSERS)


@pytest.mark.parametrize("tool_format", sorted(TOOL_FORMATS))
@pytest.mark.parametrize("calls", [[WEATHER], [WEATHER, TIME]], ids=["one", "parallel"])
def test_rendered_calls_parse_back(tool_format: str, calls: list[dict]) -> None:
    if tool_format == "glm4" and len(calls) > 1:
        pytest.skip("glm4 writes one call per message")
    text = render_function_call(tool_format, json.dumps(calls))
    parsed = parse_tool_calls(tool_format, text)
    assert [(c.name, json.loads(c.arguments)) for c in parsed.tool_calls] == [
        (c["name"], c["arguments"]) for c in calls
    ]
    assert parsed.content is None


@pytest.mark.parametrize("tool_format", sorted(TOOL_FORMATS))
@pytest.mark.parametrize(
    "text", ["Paris is sunny today.", "Action: get_weather\nAction Input: not json", '{"no": "name"}']
)
def test_plain_or_broken_text_is_content(tool_format: str, text: str) -> None:
    parsed = parse_tool_calls(tool_format, text)
    assert parsed.tool_calls == [] and parsed.content == text


def test_text_before_a_qwen_call_is_kept_as_content() -> None:
    text = 'Let me check.\n<tool_call>\n{"name": "get_time", "arguments": {"zone": "UTC"}}\n</tool_call>'
    assert parse_tool_calls("qwen", text).content == "Let me check."
    assert parse_tool_calls("qwen", text).tool_calls == [ToolCall("get_time", '{"zone": "UTC"}')]


def test_an_unknown_format_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match=r"tool_format 'nope'.*supported: "):
        parse_tool_calls("nope", "text")
