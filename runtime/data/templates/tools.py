"""Tool formats: how tool definitions and function calls are written into the prompt.

Each format is a pair of pure functions: tool definitions → system text, and function calls →
assistant text. The texts follow LLaMA-Factory 0.9.5 character for character, so the same data
produces the same tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import RowError


@dataclass(frozen=True)
class FunctionCall:
    name: str
    arguments: str  # JSON text


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _function_of(tool: dict[str, Any]) -> dict[str, Any]:
    """`{"type": "function", "function": {...}}` and a bare function description both occur."""
    return tool.get("function", "") if tool.get("type") == "function" else tool  # type: ignore[no-any-return]


def _wrapped(tool: dict[str, Any]) -> dict[str, Any]:
    return tool if tool.get("type") == "function" else {"type": "function", "function": tool}


# default ---------------------------------------------------------------------------------------


def _default_tools(tools: list[dict[str, Any]]) -> str:
    described = ""
    names = []
    for tool in tools:
        fn = _function_of(tool)
        args = ""
        parameters = fn["parameters"]
        for name, spec in parameters["properties"].items():
            required = ", required" if name in parameters.get("required", []) else ""
            enum = f", should be one of [{', '.join(spec['enum'])}]" if spec.get("enum") else ""
            items = (
                f", where each item should be {spec['items'].get('type', '')}" if spec.get("items") else ""
            )
            args += (
                f"  - {name} ({spec.get('type', '')}{required}): {spec.get('description', '')}{enum}{items}\n"
            )
        described += (
            f"> Tool Name: {fn['name']}\nTool Description: {fn.get('description', '')}\nTool Args:\n{args}\n"
        )
        names.append(fn["name"])
    return (
        f"You have access to the following tools:\n{described}"
        "Use the following format if using a tool:\n```\n"
        f"Action: tool name (one of [{', '.join(names)}])\n"
        "Action Input: the input to the tool, in a JSON format representing the kwargs "
        '(e.g. ```{"input": "hello world", "num_beams": 5}```)\n```\n'
    )


def _default_calls(calls: list[FunctionCall]) -> str:
    return "\n".join(f"Action: {call.name}\nAction Input: {call.arguments}" for call in calls)


# qwen ------------------------------------------------------------------------------------------


def _qwen_tools(tools: list[dict[str, Any]]) -> str:
    body = "".join("\n" + _dumps(_wrapped(tool)) for tool in tools)
    return (
        "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        f"You are provided with function signatures within <tools></tools> XML tags:\n<tools>{body}"
        "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
        '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, '
        '"arguments": <args-json-object>}\n</tool_call>'
    )


def _qwen_calls(calls: list[FunctionCall]) -> str:
    return "\n".join(
        f"<tool_call>\n{_dumps({'name': call.name, 'arguments': json.loads(call.arguments)})}\n</tool_call>"
        for call in calls
    )


# llama3 ----------------------------------------------------------------------------------------


def today() -> str:
    """The date Llama 3 tool prompts carry; tests and golden generators pin it."""
    return datetime.now().strftime("%d %b %Y")


def _llama3_tools(tools: list[dict[str, Any]]) -> str:
    body = "".join(_dumps(_wrapped(tool), indent=4) + "\n\n" for tool in tools)
    return (
        f"Cutting Knowledge Date: December 2023\nToday Date: {today()}\n\n"
        "You have access to the following functions. To call a function, please respond with JSON for a "
        'function call. Respond in the format {"name": function name, "parameters": dictionary of argument '
        f"name and its value}}. Do not use variables.\n\n{body}"
    )


def _llama3_calls(calls: list[FunctionCall]) -> str:
    objects = [{"name": call.name, "parameters": json.loads(call.arguments)} for call in calls]
    return _dumps(objects[0] if len(objects) == 1 else objects)


# glm4 ------------------------------------------------------------------------------------------


def _glm4_tools(tools: list[dict[str, Any]]) -> str:
    body = ""
    for tool in tools:
        fn = _function_of(tool)
        body += f"\n\n## {fn['name']}\n\n{_dumps(fn, indent=4)}\n在调用上述函数时，请使用 Json 格式表示调用的参数。"
    return (
        "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱 AI 公司训练的语言模型 GLM-4 模型开发的，"
        f"你的任务是针对用户的问题和要求提供适当的答复和支持。\n\n# 可用工具{body}"
    )


def _glm4_calls(calls: list[FunctionCall]) -> str:
    if len(calls) > 1:
        raise RowError("tool format glm4 cannot write parallel function calls; give one call per message")
    return f"{calls[0].name}\n{calls[0].arguments}"


# mistral ---------------------------------------------------------------------------------------


def _mistral_tools(tools: list[dict[str, Any]]) -> str:
    return "[AVAILABLE_TOOLS] " + _dumps([_wrapped(tool) for tool in tools]) + "[/AVAILABLE_TOOLS]"


def _mistral_calls(calls: list[FunctionCall]) -> str:
    return _dumps([{"name": call.name, "arguments": json.loads(call.arguments)} for call in calls])


ToolsWriter = Callable[[list[dict[str, Any]]], str]
CallsWriter = Callable[[list[FunctionCall]], str]

TOOL_FORMATS: dict[str, tuple[ToolsWriter, CallsWriter]] = {
    "default": (_default_tools, _default_calls),
    "qwen": (_qwen_tools, _qwen_calls),
    "llama3": (_llama3_tools, _llama3_calls),
    "glm4": (_glm4_tools, _glm4_calls),
    "mistral": (_mistral_tools, _mistral_calls),
}


def check_tool_format(name: str) -> None:
    if name not in TOOL_FORMATS:
        raise ValueError(
            f"tool_format '{name}' is not supported; supported: {', '.join(sorted(TOOL_FORMATS))}"
        )


def render_tools(name: str, tools: str) -> str:
    """The system text describing `tools` (a JSON list of tool descriptions); "" for an empty list."""
    check_tool_format(name)
    try:
        parsed = json.loads(tools)
    except json.JSONDecodeError as err:
        raise RowError(f"the tools column is not valid JSON ({err}); expected a JSON list of tools") from None
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list) or not all(isinstance(tool, dict) for tool in parsed):
        raise RowError("the tools column must be a JSON list of tool descriptions (objects)")
    if not parsed:
        return ""
    try:
        return TOOL_FORMATS[name][0](parsed)
    except (KeyError, TypeError, AttributeError) as err:
        raise RowError(
            f"a tool description lacks {err} (each needs name and parameters.properties)"
        ) from None


def render_function_call(
    name: str,
    content: str,
    thought_words: tuple[str, str] | None = None,
    tool_call_words: tuple[str, str] | None = None,
) -> str:
    """Assistant text for a function message holding JSON calls, optionally wrapped in tool-call
    words and preceded by a thought, which are kept in front of the written calls."""
    check_tool_format(name)
    writer = TOOL_FORMATS[name][1]
    if tool_call_words:
        pattern = re.compile(
            f"{re.escape(tool_call_words[0])}(.*?){re.escape(tool_call_words[1])}", re.DOTALL
        )
        match = pattern.search(content)
        if match is not None:
            return content.replace(match.group(0), "") + writer(_parse_calls(match.group(1)))
    thought = None
    if thought_words:
        pattern = re.compile(f"{re.escape(thought_words[0])}(.*?){re.escape(thought_words[1])}", re.DOTALL)
        thought = pattern.search(content)
    if thought is None:
        return writer(_parse_calls(content))
    return thought.group(0) + writer(_parse_calls(content.replace(thought.group(0), "")))


def _parse_calls(text: str) -> list[FunctionCall]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RowError(f"a function call is not valid JSON ({err}): {text[:80]!r}") from None
    calls = data if isinstance(data, list) else [data]
    try:
        return [FunctionCall(call["name"], _dumps(call["arguments"])) for call in calls]
    except (KeyError, TypeError):
        raise RowError(f'each function call needs "name" and "arguments": {text[:80]!r}') from None
