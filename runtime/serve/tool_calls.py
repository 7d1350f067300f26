"""Generated text → tool calls, the inverse of each tool format's function-call writer.

The writers live with the templates (runtime.data.templates.tools); a test renders calls with
every writer and parses them back here, so the two sides cannot drift apart.

One mechanism serves both paths: `ToolCallStream` reads an answer piece by piece and yields
OpenAI deltas (content, then per call a first delta with index, id and name and the arguments'
JSON text in pieces); `parse_tool_calls` runs the same stream over the whole answer at once and
keeps its calls only when the answer held no malformed call. Each tool format is one row of
`SYNTAXES` (patterns, not code), so a streamed answer assembles to exactly the non-streaming
parse whenever the non-streaming parse finds calls.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str  # JSON text, as the OpenAI API carries it


@dataclass(frozen=True)
class ParsedReply:
    content: str | None  # text outside the calls; None when there is none
    tool_calls: list[ToolCall]


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _call(obj: Any, arguments_key: str = "arguments") -> ToolCall | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    arguments = obj.get(arguments_key, {})
    if isinstance(arguments, str):  # already JSON text
        arguments = _json(arguments) if _json(arguments) is not None else arguments
    return ToolCall(
        obj["name"], arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    )


def _all_or_nothing(calls: list[ToolCall | None]) -> list[ToolCall]:
    return [c for c in calls if c is not None] if calls and all(c is not None for c in calls) else []


def _json_calls(arguments_key: str, prefix: str = "") -> Callable[[str], ParsedReply]:
    def parse(text: str) -> ParsedReply:
        body = text.strip().removeprefix(prefix).strip()
        data = _json(body)
        items = data if isinstance(data, list) else [data]
        found = _all_or_nothing([_call(item, arguments_key) for item in items])
        return ParsedReply(None, found) if found else ParsedReply(text, [])

    return parse


# Patterns as (whole, prefix) pairs: `whole` matches the piece, `prefix` fullmatches every text
# that could still grow into it. A stream holds text back only while it is such a prefix.
Piece = tuple[str, str]


def _lit(text: str) -> Piece:
    prefix = ""
    for char in reversed(text):
        prefix = f"(?:{re.escape(char)}{prefix})?"
    return re.escape(text), prefix


def _raw(whole: str, prefix: str | None = None) -> Piece:
    return whole, whole if prefix is None else prefix


_WS = _raw(r"\s*")
_JSON_NAME = _raw(r'"((?:[^"\\]|\\.)*)"', r'(?:"(?:[^"\\]|\\.)*\\?)?')


@dataclass(frozen=True)
class Pattern:
    whole: re.Pattern[str]
    prefix: re.Pattern[str]

    @classmethod
    def of(cls, *pieces: Piece) -> Pattern:
        prefix = pieces[-1][1]
        for whole, piece_prefix in reversed(pieces[:-1]):
            prefix = f"(?:{whole}{prefix}|{piece_prefix})"
        return cls(re.compile("".join(w for w, _ in pieces)), re.compile(prefix))

    def match(self, text: str) -> re.Match[str] | bool | None:
        """The match at the start of `text`; True while `text` may still grow into one; None."""
        found = self.whole.match(text)
        if found is not None:
            return found
        return True if len(text) <= _HEAD_LIMIT and self.prefix.fullmatch(text) else None


_HEAD_LIMIT = 1024  # characters a call's head may take before the text counts as no call


def _json_head(arguments_key: str) -> Pattern:
    """{"name": "...", "<arguments_key>": {  — a call written as a JSON object, up to the arguments."""
    return Pattern.of(
        _WS, _lit("{"), _WS, _lit('"name"'), _WS, _lit(":"), _WS, _JSON_NAME, _WS, _lit(","), _WS,
        _lit(f'"{arguments_key}"'), _WS, _lit(":"), _WS, _lit("{"),
    )  # fmt: skip


@dataclass(frozen=True)
class CallSyntax:
    """How one tool format writes its calls, for ToolCallStream.

    A call is: `opener` (a marker searched for anywhere, text before the first call being content;
    or, with `at_start`, a pattern the answer must begin with), `head` (up to the "{" that opens
    the arguments; group 1 is the name), the arguments (one JSON object), `close`. After a closed
    call, `next` leads to the next call's head, else what is left must fullmatch `end`.
    `between` (a marker): after a call, text up to the next marker is dropped instead.
    `whole`: when a head does not match, the answer (or, with a marker, the text up to `region`)
    is parsed whole by it instead; None: such an opener is plain text."""

    head: Pattern
    close: Pattern
    end: Pattern
    opener: str = ""
    at_start: Pattern | None = None
    next: Pattern | None = None
    list_next: Pattern | None = None  # `next` when the opener began a JSON list
    list_end: Pattern | None = None
    name_is_json: bool = True
    region: str = ""
    whole: Callable[[str], ParsedReply] | None = None
    whole_if: str = ""  # with `at_start`: whole parsing only for answers that begin with one of these


def _qwen_region(body: str) -> ParsedReply:
    call = _call(_json(body.strip()))
    return ParsedReply(None, [call]) if call is not None else ParsedReply(body, [])


def _json_syntax(arguments_key: str, start: Pattern, lists: bool, prefix: str = "") -> CallSyntax:
    return CallSyntax(
        at_start=start,
        head=_json_head(arguments_key),
        close=Pattern.of(_WS, _lit("}")),
        end=Pattern.of(_WS),
        list_next=Pattern.of(_WS, _lit(",")) if lists else None,
        list_end=Pattern.of(_WS, _lit("]"), _WS) if lists else None,
        whole=_json_calls(arguments_key, prefix=prefix),
        whole_if="{[",
    )


SYNTAXES: dict[str, CallSyntax] = {
    "default": CallSyntax(
        opener="Action:",
        head=Pattern.of(
            _WS, _raw(r"([^\n]+?)", r"[^\n]*"), _WS, _lit("\nAction Input:"), _raw(r"[\s`]*"), _lit("{")
        ),
        close=Pattern.of(_raw("")),
        next=Pattern.of(_raw(r"[\s`]*"), _lit("\nAction:")),
        end=Pattern.of(_raw(r"[\s`]*")),
        name_is_json=False,
    ),
    "qwen": CallSyntax(
        opener="<tool_call>",
        head=_json_head("arguments"),
        close=Pattern.of(_WS, _lit("}"), _WS, _lit("</tool_call>")),
        end=Pattern.of(_raw(r"(?s:.*)")),
        region="</tool_call>",
        whole=_qwen_region,
    ),
    "llama3": _json_syntax("parameters", Pattern.of(_WS, _raw(r"(?:\[)?")), lists=True),
    # OpenAI's function names: [a-zA-Z0-9_-]{1,64}; plain text streams as soon as it is no such name
    # (held back at most 64 + 16 + 1 characters: a name, spaces, a newline)
    "glm4": CallSyntax(
        at_start=Pattern.of(_WS),
        head=Pattern.of(
            _raw(r"([a-zA-Z0-9_-]{1,64})", r"[a-zA-Z0-9_-]{0,64}"),
            _raw(r"[ \t]{0,16}"),
            _lit("\n"),
            _WS,
            _lit("{"),
        ),
        close=Pattern.of(_raw("")),
        end=Pattern.of(_WS),
        name_is_json=False,
    ),
    "mistral": _json_syntax(
        "arguments",
        Pattern.of(_WS, _raw(r"(?:\[TOOL_CALLS\])?", _lit("[TOOL_CALLS]")[1]), _WS, _raw(r"(?:\[)?")),
        lists=True,
        prefix="[TOOL_CALLS]",
    ),
}
FORCED = _json_syntax("arguments", Pattern.of(_WS), lists=False)  # tool_choice: the answer is one call
PARSERS = SYNTAXES  # every tool format the server parses


class ToolCallStream:
    """Tool calls recognised while the answer is generated, as OpenAI streams them: a first delta
    with the call's index, id and name, then the arguments' JSON text in pieces. Pure: text in,
    deltas out.

    Text before the first call streams as content at once, except a tail that may begin a call's
    marker (at most the marker's length; with no marker, as in glm4, the start of a function name).
    Once a call's head is out it cannot be taken back: when the rest of the answer then turns out
    malformed (arguments that are not JSON, a call cut off by max_tokens, text after the calls
    where the format allows none, a later malformed call) `valid` becomes False and the rest is
    dropped — the non-streaming parser returns such an answer as content, with no calls. Before
    any call is out, a malformed answer streams as content, exactly as the non-streaming parse."""

    def __init__(self, syntax: CallSyntax) -> None:
        self.syntax = syntax
        self.calls = 0
        self.valid = True
        self._text = ""  # everything fed
        self._emitted = 0  # how much of _text is out as content or consumed by calls
        self._position = 0  # where the unread text starts in _text
        self._state = "start" if syntax.at_start is not None else "text"
        self._listed = False
        self._marker = 0  # where the latest opener began
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._arguments = ""

    @property
    def _buffer(self) -> str:
        return self._text[self._position :]

    def feed(self, text: str) -> list[dict[str, Any]]:
        self._text += text
        out: list[dict[str, Any]] = []
        while self._step(out, final=False):
            pass
        return out

    def finish(self) -> list[dict[str, Any]]:
        """The end of the answer: settle what was held back."""
        out: list[dict[str, Any]] = []
        while self._step(out, final=True):
            pass
        state = self._state
        if state in ("text", "start"):
            self._content(out, len(self._text))
        elif state == "after":
            if not self._end_pattern().whole.fullmatch(self._buffer):
                self._fail(out)
        elif state == "whole":
            assert self.syntax.whole is not None
            parsed = self.syntax.whole(self._buffer)
            if parsed.tool_calls:
                for call in parsed.tool_calls:
                    out.extend(self._whole_call(call))
            else:
                self._fail(out)
        elif state in ("head", "args", "close", "region"):
            self._fail(out)
        self._state = "done"
        return out

    def _end_pattern(self) -> Pattern:
        if self._listed and self.syntax.list_end is not None:
            return self.syntax.list_end
        return self.syntax.end

    def _fail(self, out: list[dict[str, Any]]) -> None:
        """A malformed call: with no call out yet, all the text so far is content after all."""
        self.valid = False
        if not self.calls:
            self._content(out, len(self._text))
            self._state = "plain"
        else:
            self._state = "done"
        self._position = len(self._text)

    def _content(self, out: list[dict[str, Any]], upto: int) -> None:
        if upto > self._emitted and not self.calls:
            out.append({"content": self._text[self._emitted : upto]})
        self._emitted = max(self._emitted, upto)

    def _step(self, out: list[dict[str, Any]], final: bool) -> bool:
        syntax, state, buffer = self.syntax, self._state, self._buffer
        if state == "start":  # formats whose answer is the calls: how it begins
            assert syntax.at_start is not None
            if not final and syntax.at_start.prefix.fullmatch(buffer):
                return False  # wait: the opening could still grow (whitespace, a prefix, "[")
            opening = syntax.at_start.whole.match(buffer)
            assert opening is not None  # every part of an opening is optional
            self._listed = opening.group(0).rstrip().endswith("[")
            self._position += opening.end()
            self._state = "head"
            return True
        if state == "text":  # content, up to a marker
            index = buffer.find(syntax.opener)
            if index < 0:
                keep = next(
                    (n for n in range(min(len(syntax.opener) - 1, len(buffer)), 0, -1)
                     if buffer.endswith(syntax.opener[:n])),
                    0,
                )  # fmt: skip
                self._content(out, len(self._text) - keep)
                return False
            self._content(out, self._position + index)
            self._marker = self._position + index
            self._position += index + len(syntax.opener)
            self._state = "head"
            return True
        if state == "plain":
            self._content(out, len(self._text))
            self._position = len(self._text)
            return False
        if state == "head":
            found = syntax.head.match(buffer)
            if found is True and not final:
                return False
            if not isinstance(found, re.Match):
                return self._no_head(out)
            name = json.loads(f'"{found.group(1)}"') if syntax.name_is_json else found.group(1).strip()
            out.append(
                {
                    "tool_calls": [
                        {
                            "index": self.calls,
                            "id": f"call_{uuid.uuid4().hex[:24]}",
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
            self.calls += 1
            self._position += found.end() - 1  # the arguments start at their "{"
            self._state, self._arguments = "args", ""
            self._depth, self._in_string, self._escaped = 0, False, False
            return True
        if state == "args":
            end = self._scan(buffer)
            piece = buffer if end is None else buffer[:end]
            if piece:
                self._arguments += piece
                out.append({"tool_calls": [{"index": self.calls - 1, "function": {"arguments": piece}}]})
            self._position += len(piece)
            self._emitted = self._position
            if end is None:
                return False
            if not isinstance(_json(self._arguments), dict):
                self._fail(out)
                return False
            self._state = "close"
            return True
        if state == "close":
            found = syntax.close.match(buffer)
            if found is True and not final:
                return False
            if not isinstance(found, re.Match):
                self._fail(out)
                return False
            self._position += found.end()
            self._emitted = self._position
            self._state = "after"
            return True
        if state == "after":  # between calls: the next one, the end, or dropped text
            if syntax.opener and syntax.next is None:  # text between calls is dropped
                index = buffer.find(syntax.opener)
                if index >= 0:
                    self._position += index + len(syntax.opener)
                    self._state = "head"
                    return True
                self._position += max(0, len(buffer) - len(syntax.opener) + 1)
                return False
            follow = syntax.list_next if self._listed else syntax.next
            found = follow.match(buffer) if follow is not None else None
            if isinstance(found, re.Match):
                self._position += found.end()
                self._state = "head"
                return True
            ending = self._end_pattern().prefix.fullmatch(buffer)
            if found is None and ending is None:
                self._fail(out)  # text after the calls where the format allows none
            return False
        if state == "region":  # a call that is not in the streamed shape: parsed whole at its closer
            index = buffer.find(syntax.region)
            if index < 0:
                return False
            assert syntax.whole is not None
            parsed = syntax.whole(buffer[:index])
            if not parsed.tool_calls:
                self._fail(out)
                return False
            self._content(out, self._marker)
            for call in parsed.tool_calls:
                out.extend(self._whole_call(call))
            self._position += index + len(syntax.region)
            self._emitted = self._position
            self._state = "after"
            return True
        if state == "done":  # what follows is dropped
            self._position = len(self._text)
        return False  # whole: held to the end

    def _no_head(self, out: list[dict[str, Any]]) -> bool:
        """After an opener, text that is not a call's head in the streamed shape."""
        syntax = self.syntax
        if syntax.whole is None:  # the opener was plain text
            if self.calls:
                self._fail(out)
                return False
            self._state = "text" if syntax.opener else "plain"
            return True
        if syntax.region:  # parse the call whole at its closer
            self._state = "region"
            return True
        if self.calls or self._text.lstrip()[:1] not in tuple(syntax.whole_if):
            if not self.calls:
                self._state = "plain"
                return True
            self._fail(out)
            return False
        self._position = 0  # the whole answer, parsed at the end
        self._state = "whole"
        return False

    def _whole_call(self, call: ToolCall) -> list[dict[str, Any]]:
        self.calls += 1
        return [
            {
                "tool_calls": [
                    {
                        "index": self.calls - 1,
                        "id": f"call_{uuid.uuid4().hex[:24]}",
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                ]
            }
        ]

    def _scan(self, text: str) -> int | None:
        """Where the arguments' JSON object ends in `text` (continuing the scan state), or None."""
        for position, char in enumerate(text):
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
            elif char == '"':
                self._in_string = True
            elif char in "{[":
                self._depth += 1
            elif char in "}]":
                self._depth -= 1
                if self._depth == 0:
                    return position + 1
        return None


def stream_for(tool_format: str) -> ToolCallStream:
    """A stream of the calls in answers written in `tool_format`."""
    syntax = SYNTAXES.get(tool_format)
    if syntax is None:
        raise ValueError(
            f"tool_format '{tool_format}': no parser for its tool calls; supported: {sorted(SYNTAXES)}"
        )
    return ToolCallStream(syntax)


def assemble(deltas: list[dict[str, Any]]) -> tuple[str, list[ToolCall]]:
    """Deltas as a client assembles them: (content, calls)."""
    content = "".join(delta.get("content", "") for delta in deltas)
    calls: dict[int, list[str]] = {}
    for delta in deltas:
        for call in delta.get("tool_calls", []):
            entry = calls.setdefault(call["index"], ["", ""])
            entry[0] += call["function"].get("name", "")
            entry[1] += call["function"].get("arguments", "")
    return content, [ToolCall(name, arguments) for name, arguments in calls.values()]


def _parse(stream: ToolCallStream, text: str) -> ParsedReply:
    content, calls = assemble(stream.feed(text) + stream.finish())
    if not stream.valid or not calls:
        return ParsedReply(text, [])
    return ParsedReply(content.strip() or None, calls)


def parse_tool_calls(tool_format: str, text: str) -> ParsedReply:
    """The calls in `text` written in `tool_format`; plain text (no calls) when none parse or any
    call is malformed. The same stream as a streamed answer, fed the whole text at once."""
    return _parse(stream_for(tool_format), text)


def parse_forced_call(text: str) -> ParsedReply:
    """A call forced by tool_choice (the answer is one JSON call object)."""
    return _parse(ToolCallStream(FORCED), text)
