"""Tool calls written by each tool format's writer parse back to the same calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubefactory.runtime.data.templates.tools import TOOL_FORMATS, render_function_call
from kubefactory.runtime.serve.tool_calls import (
    FORCED,
    PARSERS,
    ToolCall,
    ToolCallStream,
    assemble,
    parse_forced_call,
    parse_tool_calls,
    stream_for,
)

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


def _stream(parser: ToolCallStream, pieces: list[str]) -> list[dict[str, Any]]:
    return [delta for piece in pieces for delta in parser.feed(piece)] + parser.finish()


def _chunkings(text: str) -> list[list[str]]:
    """Every split of `text` in two (so every boundary: inside markers, names, JSON strings, escapes),
    fixed sizes, and the whole text at once."""
    twos = [[text[:i], text[i:]] for i in range(1, len(text))]
    sizes = [[text[i : i + n] for i in range(0, len(text), n)] for n in (1, 2, 3, 5, 7)]
    return [[text], *twos, *sizes]


STRINGY = {"q": 'a "}" b \\ </tool_call> [TOOL_CALLS] \nAction: x', "n": [1, {"k": "}]"}], "u": "\u00e9 é"}
STRINGY_JSON = json.dumps(STRINGY, ensure_ascii=False)
PARIS = '{"city": "Paris", "days": [1, 2]}'
# answers with calls, per format: every one must stream to exactly its non-streaming parse
WITH_CALLS = {
    "qwen": [
        f'Let me look.\n<tool_call>\n{{"name": "weather", "arguments": {PARIS}}}\n</tool_call>\n'
        f'<tool_call>\n{{"name": "time", "arguments": {STRINGY_JSON}}}\n</tool_call>',
        f'<tool_call>{{"arguments": {PARIS}, "name": "weather"}}</tool_call> trailing words',  # whole, by region
        '<tool_call>{"name":"a\\"b","arguments":{}}</tool_call>',
    ],
    "default": [
        f"I will check.\nAction: weather\nAction Input: {PARIS}\nAction: time\nAction Input: {STRINGY_JSON}",
        f"Action: weather\nAction Input: ```{PARIS}```\n",
    ],
    "llama3": [
        f'{{"name": "weather", "parameters": {PARIS}}}',
        f'  [{{"name": "weather", "parameters": {PARIS}}}, {{"name": "time", "parameters": {STRINGY_JSON}}}]\n',
        f'{{"parameters": {PARIS}, "name": "weather"}}',  # another key order: parsed whole at the end
    ],
    "glm4": [f"weather\n{PARIS}", f"  time \n\n{STRINGY_JSON}\n"],
    "mistral": [
        f'[TOOL_CALLS] [{{"name": "weather", "arguments": {PARIS}}}, {{"name": "time", "arguments": {STRINGY_JSON}}}]',
        f'[{{"name": "weather", "arguments": {PARIS}}}]',
        f'{{"name": "weather", "arguments": {PARIS}}}',
    ],
}
CASES = [(fmt, text) for fmt, texts in WITH_CALLS.items() for text in texts]


@pytest.mark.parametrize(("tool_format", "text"), CASES)
def test_streamed_calls_assemble_to_the_whole_parse_for_every_chunking(tool_format: str, text: str) -> None:
    whole = parse_tool_calls(tool_format, text)
    assert whole.tool_calls, "the case must hold calls"
    for pieces in _chunkings(text):
        stream = stream_for(tool_format)
        deltas = _stream(stream, pieces)
        content, calls = assemble(deltas)
        assert (calls, content.strip() or None) == (whole.tool_calls, whole.content), pieces
        assert stream.valid and stream.calls == len(calls)
        heads = [d["tool_calls"][0] for d in deltas if "id" in d.get("tool_calls", [{}])[0]]
        assert [h["function"]["name"] for h in heads] == [c.name for c in calls]
        assert all(h["id"].startswith("call_") and h["type"] == "function" for h in heads)


def test_calls_in_the_streamed_shape_arrive_in_pieces() -> None:
    for tool_format, text in [("qwen", WITH_CALLS["qwen"][0]), ("default", WITH_CALLS["default"][0]),
                              ("llama3", WITH_CALLS["llama3"][1]), ("glm4", WITH_CALLS["glm4"][0]),
                              ("mistral", WITH_CALLS["mistral"][0])]:  # fmt: skip
        deltas = _stream(stream_for(tool_format), [text[i : i + 3] for i in range(0, len(text), 3)])
        pieces = [d for d in deltas if "tool_calls" in d and "id" not in d["tool_calls"][0]]
        assert len(pieces) > 5, tool_format
        first = next(d for d in deltas if "tool_calls" in d)["tool_calls"][0]
        assert first["function"]["arguments"] == ""  # the name comes before any argument


def test_the_whole_parse_keeps_the_arguments_as_written() -> None:
    assert parse_tool_calls("llama3", '{"name": "f", "parameters": {"a":1}}').tool_calls == [
        ToolCall("f", '{"a":1}')
    ]


# malformed before any call is out: the stream is content, as the whole parse
MALFORMED = [
    ("qwen", '<tool_call>{"name": 5, "arguments": {}}</tool_call>'),
    ("qwen", "<tool_call>not json</tool_call>"),
    ("qwen", '<tool_call>{"name": "f", "argu'),  # cut off
    ("default", "Action: weather\nAction Input: not json"),
    ("default", "The Action: was quick."),
    ("llama3", '{"no": "name"}'),
    ("llama3", "[1, 2]"),
    ("glm4", "weather\nnot json"),
    ("glm4", "Paris is sunny.\n{}"),
    ("mistral", "[TOOL_CALLS] oops"),
]


@pytest.mark.parametrize(("tool_format", "text"), MALFORMED)
def test_malformed_calls_stream_as_content_like_the_whole_parse(tool_format: str, text: str) -> None:
    assert parse_tool_calls(tool_format, text) == parse_tool_calls(tool_format, text).__class__(text, [])
    for pieces in _chunkings(text):
        stream = stream_for(tool_format)
        assert assemble(_stream(stream, pieces)) == (text, []) and stream.calls == 0, pieces


# the documented difference: once a call's name is out, a malformation after it cannot be taken
# back; the stream marks itself invalid and drops the rest, the whole parse has no calls
AFTER_THE_HEAD = [
    ("qwen", '<tool_call>{"name": "f", "arguments": {"a": tru}}</tool_call>', '{"a": tru}'),
    ("qwen", '<tool_call>{"name": "f", "arguments": {"a": 1}', '{"a": 1}'),  # no closer (max_tokens)
    ("default", 'Action: f\nAction Input: {"a": 1} and more', '{"a": 1}'),
    ("llama3", '{"name": "f", "parameters": {"a": 1}} trailing', '{"a": 1}'),
    ("glm4", 'f\n{"a": 1', '{"a": 1'),
    ("mistral", '[{"name": "f", "arguments": {}}, {"oops": 1}]', "{}"),
]


@pytest.mark.parametrize(("tool_format", "text", "arguments"), AFTER_THE_HEAD)
def test_a_call_malformed_after_its_head_is_marked_invalid(
    tool_format: str, text: str, arguments: str
) -> None:
    assert parse_tool_calls(tool_format, text).tool_calls == []
    for pieces in _chunkings(text):
        stream = stream_for(tool_format)
        content, calls = assemble(_stream(stream, pieces))
        assert not stream.valid and calls == [ToolCall("f", arguments)] and content == "", pieces


PLAIN = "Paris is sunny today, about 22 degrees; no call needed at all."


@pytest.mark.parametrize(
    ("tool_format", "bound"), [("qwen", 10), ("default", 6), ("llama3", 0), ("glm4", 6), ("mistral", 0)]
)
def test_plain_text_streams_with_a_bounded_hold_back(tool_format: str, bound: int) -> None:
    stream = stream_for(tool_format)
    fed, out = "", ""
    for char in PLAIN:
        fed += char
        out += assemble(stream.feed(char))[0]
        assert len(fed) - len(out) <= bound, fed
    assert out + assemble(stream.finish())[0] == PLAIN and stream.valid and stream.calls == 0


def test_a_marker_in_plain_text_is_held_only_while_it_may_be_one() -> None:
    stream = stream_for("qwen")
    assert assemble(stream.feed("a < sign and <tool"))[0] == "a < sign and "
    assert assemble(stream.feed("box"))[0] == "<toolbox"


def test_a_forced_call_streams_from_the_first_brace() -> None:
    text = '{"name": "weather", "arguments": {"city": "Oslo"}}'
    deltas = _stream(ToolCallStream(FORCED), [text[i : i + 4] for i in range(0, len(text), 4)])
    assert assemble(deltas) == ("", [ToolCall("weather", '{"city": "Oslo"}')])
    assert parse_forced_call(text).tool_calls == assemble(deltas)[1]
    assert parse_forced_call('{"name": "weather", "argum').tool_calls == []
