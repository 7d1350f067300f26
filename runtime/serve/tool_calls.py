"""Generated text → tool calls, the inverse of each tool format's function-call writer.

The writers live with the templates (runtime.data.templates.tools); a test renders calls with
every writer and parses them back here, so the two sides cannot drift apart.
"""

from __future__ import annotations

import json
import re
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
