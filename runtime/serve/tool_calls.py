"""Generated text → tool calls, the inverse of each tool format's function-call writer.

The writers live with the templates (runtime.data.templates.tools); a test renders calls with
every writer and parses them back here, so the two sides cannot drift apart.
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


_ACTION = re.compile(r"Action:\s*([^\n]+?)\s*\nAction Input:\s*(.+?)(?=\s*\nAction:|\s*$)", re.DOTALL)


def _default(text: str) -> ParsedReply:
    matches = list(_ACTION.finditer(text))
    calls: list[ToolCall | None] = []
    for match in matches:
        raw = match.group(2).strip().strip("`").strip()
        arguments = _json(raw)
        calls.append(
            ToolCall(match.group(1).strip(), json.dumps(arguments, ensure_ascii=False))
            if isinstance(arguments, dict)
            else None
        )
    found = _all_or_nothing(calls)
    if not found:
        return ParsedReply(text, [])
    return ParsedReply(text[: matches[0].start()].strip() or None, found)


_QWEN = re.compile(r"<tool_call>\s*(.+?)\s*</tool_call>", re.DOTALL)


def _qwen(text: str) -> ParsedReply:
    matches = list(_QWEN.finditer(text))
    found = _all_or_nothing([_call(_json(match.group(1))) for match in matches])
    if not found:
        return ParsedReply(text, [])
    return ParsedReply(text[: matches[0].start()].strip() or None, found)


def _json_calls(arguments_key: str, prefix: str = "") -> Callable[[str], ParsedReply]:
    def parse(text: str) -> ParsedReply:
        body = text.strip().removeprefix(prefix).strip()
        data = _json(body)
        items = data if isinstance(data, list) else [data]
        found = _all_or_nothing([_call(item, arguments_key) for item in items])
        return ParsedReply(None, found) if found else ParsedReply(text, [])

    return parse


def _glm4(text: str) -> ParsedReply:
    name, newline, rest = text.strip().partition("\n")
    arguments = _json(rest) if newline else None
    if not name.strip() or not isinstance(arguments, dict):
        return ParsedReply(text, [])
    return ParsedReply(None, [ToolCall(name.strip(), json.dumps(arguments, ensure_ascii=False))])


PARSERS: dict[str, Callable[[str], ParsedReply]] = {
    "default": _default,
    "qwen": _qwen,
    "llama3": _json_calls("parameters"),
    "glm4": _glm4,
    "mistral": _json_calls("arguments", prefix="[TOOL_CALLS]"),
}


def parse_tool_calls(tool_format: str, text: str) -> ParsedReply:
    """The calls in `text` written in `tool_format`; plain text (no calls) when none parse."""
    parser = PARSERS.get(tool_format)
    if parser is None:
        raise ValueError(
            f"tool_format '{tool_format}': no parser for its tool calls; supported: {sorted(PARSERS)}"
        )
    return parser(text)


_CALL_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"(?:arguments|parameters)"\s*:\s*')
_HEAD_LIMIT = 1024  # characters after an opener without a recognisable call head: not a call


class ToolCallStream:
    """Tool calls recognised while the answer is generated, as OpenAI streams them: a first delta
    with the call's index, id and name, then the arguments' JSON text in pieces.

    For calls written as JSON objects {"name": ..., "arguments"|"parameters": {...}}: after an
    opener (qwen's <tool_call>), or as the whole answer (an opener of "": calls forced by
    tool_choice). Text before the first call streams as content; text after a
    call is dropped, as the non-streaming parser drops it. Pure: text in, deltas out."""

    def __init__(self, opener: str = "", closer: str = "") -> None:
        self.opener, self.closer = opener, closer
        self.calls = 0
        self._buffer = ""
        self._state = "text"
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._started = False

    def feed(self, text: str) -> list[dict[str, Any]]:
        self._buffer += text
        out: list[dict[str, Any]] = []
        while self._step(out):
            pass
        return out

    def finish(self) -> list[dict[str, Any]]:
        """The end of the answer: text held back as a possible call start is content after all."""
        rest, self._buffer = self._buffer, ""
        if self.calls or not rest or self._state == "args":
            return []
        self._state = "done"
        return [{"content": rest}]

    def _step(self, out: list[dict[str, Any]]) -> bool:
        state, buffer = self._state, self._buffer
        if state == "text":
            if not self.opener:
                stripped = buffer.lstrip()
                if not stripped:
                    return False
                self._state = "head" if stripped[0] == "{" else "plain"
                return True
            index = buffer.find(self.opener)
            if index < 0:
                keep = next(
                    (
                        n
                        for n in range(min(len(self.opener) - 1, len(buffer)), 0, -1)
                        if buffer.endswith(self.opener[:n])
                    ),
                    0,
                )
                self._content(out, buffer[: len(buffer) - keep])
                self._buffer = buffer[len(buffer) - keep :]
                return False
            self._content(out, buffer[:index])
            self._buffer, self._state = buffer[index + len(self.opener) :], "head"
            return True
        if state == "plain":
            self._content(out, buffer)
            self._buffer = ""
            return False
        if state == "head":
            match = _CALL_HEAD.match(buffer)
            if match is None:
                if len(buffer) > _HEAD_LIMIT:
                    self._state = "plain" if not self.calls else "done"
                    return True
                return False
            name = json.loads(f'"{match.group(1)}"')
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
            self._buffer, self._state = buffer[match.end() :], "args"
            self._depth, self._in_string, self._escaped, self._started = 0, False, False, False
            return True
        if state == "args":
            if not self._started:  # whitespace before the value: not part of the arguments
                buffer = self._buffer = buffer.lstrip()
                if not buffer:
                    return False
                self._started = True
            end = self._scan(buffer)
            piece = buffer if end is None else buffer[:end]
            if piece:
                arguments = {"index": self.calls, "function": {"arguments": piece}}
                out.append({"tool_calls": [arguments]})
            self._buffer = "" if end is None else buffer[end:]
            if end is None:
                return False
            self.calls += 1
            self._state = "tail"
            return True
        if state == "tail":  # the call object's "}" and the closer, then maybe another call
            stripped = buffer.lstrip()
            if not stripped.startswith("}"):
                return False
            rest = stripped[1:]
            if self.closer:
                index = rest.find(self.closer)
                if index < 0:
                    return False
                rest = rest[index + len(self.closer) :]
            self._buffer, self._state = rest, ("text" if self.opener else "done")
            return True
        self._buffer = ""  # done: text after the calls is dropped
        return False

    def _scan(self, text: str) -> int | None:
        """Where the arguments' JSON value ends in `text` (continuing the scan state), or None."""
        for position, char in enumerate(text):
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
                    if self._depth == 0:  # the arguments as a JSON string
                        return position + 1
            elif char == '"':
                self._in_string = True
            elif char in "{[":
                self._depth += 1
            elif char in "}]":
                self._depth -= 1
                if self._depth == 0:
                    return position + 1
        return None

    def _content(self, out: list[dict[str, Any]], text: str) -> None:
        if text and not self.calls:
            out.append({"content": text})


# formats whose calls stream as they come (llama3 may write a JSON list of calls: it streams whole)
STREAMED_FORMATS = {"qwen": ("<tool_call>", "</tool_call>")}
