"""Tool calls written by each tool format's writer parse back to the same calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubefactory.runtime.data.templates.tools import TOOL_FORMATS, render_function_call
from kubefactory.runtime.serve.tool_calls import PARSERS, ToolCall, ToolCallStream, parse_tool_calls

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


def _stream(parser: ToolCallStream, text: str, size: int) -> list[dict[str, Any]]:
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    return [delta for piece in pieces for delta in parser.feed(piece)] + parser.finish()


def _calls(deltas: list[dict[str, Any]]) -> tuple[str, list[tuple[str, str]]]:
    content = "".join(d.get("content", "") for d in deltas)
    calls: dict[int, list[str]] = {}
    for delta in deltas:
        for call in delta.get("tool_calls", []):
            entry = calls.setdefault(call["index"], ["", ""])
            entry[0] += call["function"].get("name", "")
            entry[1] += call["function"].get("arguments", "")
    return content, [(name, arguments) for name, arguments in calls.values()]


QWEN_TWO = (
    'Let me look.\n<tool_call>\n{"name": "weather", "arguments": {"city": "Paris", "days": [1, 2]}}\n</tool_call>\n'
    '<tool_call>\n{"name": "time", "arguments": {"zone": "a \\"}\\" b"}}\n</tool_call>'
)


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_qwen_calls_stream_in_pieces_and_match_the_whole_parse(size: int) -> None:
    deltas = _stream(ToolCallStream("<tool_call>", "</tool_call>"), QWEN_TWO, size)
    content, calls = _calls(deltas)
    whole = parse_tool_calls("qwen", QWEN_TWO)
    assert content.strip() == whole.content
    assert [(name, json.loads(args)) for name, args in calls] == [
        (c.name, json.loads(c.arguments)) for c in whole.tool_calls
    ]
    heads = [d["tool_calls"][0] for d in deltas if "tool_calls" in d and "id" in d["tool_calls"][0]]
    assert [h["function"]["name"] for h in heads] == ["weather", "time"] and all(h["id"] for h in heads)
    if size < 10:
        assert sum("tool_calls" in d for d in deltas) > 4  # the arguments come in several deltas


def test_a_forced_call_streams_from_the_first_brace() -> None:
    deltas = _stream(ToolCallStream(), '{"name": "weather", "arguments": {"city": "Oslo"}}', 4)
    assert _calls(deltas) == ("", [("weather", '{"city": "Oslo"}')])


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (ToolCallStream("<tool_call>", "</tool_call>"), "no call here, but a < sign and <tool"),
        (ToolCallStream(), "plain words, not JSON"),
    ],
)
def test_text_without_calls_streams_as_content(parser: ToolCallStream, text: str) -> None:
    deltas = _stream(parser, text, 5)
    assert _calls(deltas) == (text, []) and parser.calls == 0
