"""Tool formats: how tool definitions and function calls are written into the prompt."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def _load(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what} must be JSON: {err}") from None


def _default_tools(tools: list[dict[str, Any]]) -> str:
    lines = []
    names = []
    for tool in tools:
        fn = tool.get("function", tool)
        names.append(fn["name"])
        params = fn.get("parameters", {}).get("properties", {})
        required = set(fn.get("parameters", {}).get("required", []))
        args = "".join(
            f"  - {name} ({spec.get('type', '')}{', required' if name in required else ''}): "
            f"{spec.get('description', '')}\n"
            for name, spec in params.items()
        )
        lines.append(f"> Tool Name: {fn['name']}\nTool Description: {fn.get('description', '')}\nTool Args:\n{args}")
    return (
        "You have access to the following tools:\n" + "\n".join(lines) + "\n"
        "Use the following format if using a tool:\n```\n"
        f"Action: tool name (one of [{', '.join(names)}])\n"
        "Action Input: the input to the tool, in a JSON format representing the kwargs "
        """(e.g. ```{"input": "hello world", "num_beams": 5}```)\n```\n"""
    )


def _qwen_tools(tools: list[dict[str, Any]]) -> str:
    body = "".join(
        "\n" + json.dumps(tool if "function" in tool else {"type": "function", "function": tool}, ensure_ascii=False)
        for tool in tools
    )
    return (
        "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
        f"{body}\n</tools>\n\nFor each function call, return a json object with function name and arguments "
        "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
        """{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>"""
    )


def _calls(content: str) -> list[dict[str, Any]]:
    data = _load(content, "a function call")
    return data if isinstance(data, list) else [data]


def _default_call(content: str) -> str:
    return "".join(
        f"Action: {c['name']}\nAction Input: {json.dumps(c.get('arguments', {}), ensure_ascii=False)}\n"
        for c in _calls(content)
    )


def _qwen_call(content: str) -> str:
    return "\n".join(
        "<tool_call>\n"
        + json.dumps({"name": c["name"], "arguments": c.get("arguments", {})}, ensure_ascii=False)
        + "\n</tool_call>"
        for c in _calls(content)
    )


TOOL_FORMATS: dict[str, tuple[Callable[[list[dict[str, Any]]], str], Callable[[str], str]]] = {
    "default": (_default_tools, _default_call),
    "qwen": (_qwen_tools, _qwen_call),
}


def _format(name: str) -> tuple[Callable[[list[dict[str, Any]]], str], Callable[[str], str]]:
    try:
        return TOOL_FORMATS[name]
    except KeyError:
        raise ValueError(f"tool_format '{name}' is not supported; supported: {sorted(TOOL_FORMATS)}") from None


def render_tools(name: str, tools: str) -> str:
    parsed = _load(tools, "tools")
    return _format(name)[0](parsed if isinstance(parsed, list) else [parsed])


def render_function_call(name: str, content: str) -> str:
    return _format(name)[1](content)
