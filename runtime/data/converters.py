"""Dataset formats → Example. One function per format, chosen from a table.

The rules are LLaMA-Factory 0.9.5's (see ../shared/llamafactory-compat.md). Where it crashes or
silently drops a row, a converter raises RowError with a reason a user can act on instead; the
pipeline adds the dataset name and row number.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .dataset_info import DatasetAttr
from .errors import RowError
from .example import Example, Message

__all__ = ["CONVERTERS", "RowError", "convert_alpaca", "convert_openai", "convert_sharegpt", "converter_for"]

# LLaMA-Factory 0.9.5 writes this into the system prompt of openai-format rows (a switch of
# NVIDIA's Nemotron models). We do the same so that the same data gives the same tokens.
_OPENAI_SHORT_SYSTEM = "detailed thinking off"


def _text(row: dict[str, Any], column: str | None) -> str:
    """A missing optional column counts as empty (LLaMA-Factory 0.9.5 raises KeyError here)."""
    if not column:
        return ""
    value = row.get(column)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RowError(f"column '{column}' must be a string, got {type(value).__name__}")
    return value


def _tools_text(row: dict[str, Any], column: str | None) -> str:
    value = row.get(column) if column else None
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    raise RowError(f"column '{column}' must hold tools as a JSON string or list, got {type(value).__name__}")


def _media(row: dict[str, Any], column: str | None) -> list[Any]:
    if not column or row.get(column) is None:
        return []
    value = row[column]
    return [value] if not isinstance(value, list) else list(value)


def _with_media(example: Example, row: dict[str, Any], attr: DatasetAttr) -> Example:
    cols = attr.columns
    example.images, example.videos, example.audios = (
        _media(row, cols.images),
        _media(row, cols.videos),
        _media(row, cols.audios),
    )
    return example


def _kto_pair(answer: Message, desirable: bool) -> list[Message]:
    """KTO rows keep their answer first when desirable, second when not; the other slot is empty."""
    empty = Message("assistant", "")
    return [answer, empty] if desirable else [empty, answer]


# alpaca ----------------------------------------------------------------------------------------


def convert_alpaca(row: dict[str, Any], attr: DatasetAttr) -> Example:
    cols = attr.columns
    prompt: list[Message] = []
    history = row.get(cols.history) if cols.history else None
    if isinstance(history, list):
        for turn, pair in enumerate(history):
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                raise RowError(f"column '{cols.history}' item {turn} must be a [prompt, response] pair")
            if not all(isinstance(part, str) for part in pair):
                raise RowError(f"column '{cols.history}' item {turn} must hold two strings")
            prompt += [Message("user", pair[0]), Message("assistant", pair[1])]
    query = [part for part in (_text(row, cols.prompt), _text(row, cols.query)) if part]
    prompt.append(Message("user", "\n".join(query)))
    example = Example(
        prompt=prompt,
        response=_alpaca_response(row, attr),
        system=_text(row, cols.system),
        tools=_tools_text(row, cols.tools),
    )
    return _with_media(example, row, attr)


def _alpaca_response(row: dict[str, Any], attr: DatasetAttr) -> list[Message]:
    cols = attr.columns
    kto_tag = row.get(cols.kto_tag) if cols.kto_tag else None
    if isinstance(kto_tag, bool):
        return _kto_pair(Message("assistant", _text(row, cols.response)), kto_tag)
    if attr.ranking:
        chosen, rejected = row.get(cols.chosen or ""), row.get(cols.rejected or "")
        if isinstance(chosen, str) and isinstance(rejected, str):
            return [Message("assistant", chosen), Message("assistant", rejected)]
    response = row.get(cols.response) if cols.response else None
    return [Message("assistant", response)] if isinstance(response, str) else []


# sharegpt --------------------------------------------------------------------------------------


def _message_parts(message: Any, position: int, attr: DatasetAttr) -> tuple[str, str]:
    tags = attr.tags
    if not isinstance(message, dict):
        raise RowError(
            f"message {position} must be an object with '{tags.role_tag}' and '{tags.content_tag}'"
        )
    role = message.get(tags.role_tag)
    content = message.get(tags.content_tag)
    if role is None:
        raise RowError(
            f"message {position} has no '{tags.role_tag}' key (set tags.role_tag to the right key)"
        )
    if not isinstance(content, str):
        raise RowError(
            f"message {position} needs a string '{tags.content_tag}', got {type(content).__name__}"
        )
    return str(role), content


def _messages(row: dict[str, Any], attr: DatasetAttr) -> list[Any]:
    column = attr.columns.messages
    messages = row.get(column) if column else None
    if not isinstance(messages, list):
        got = "missing" if messages is None else type(messages).__name__
        raise RowError(f"column '{column}' must be a list of messages, got {got}")
    return messages


def _leading_system(
    row: dict[str, Any], messages: list[Any], attr: DatasetAttr
) -> tuple[str, list[Any], int]:
    """A leading system-tag message overrides the system column. Returns the rest and its offset."""
    tags = attr.tags
    first = messages[0] if messages else None
    if tags.system_tag and isinstance(first, dict) and first.get(tags.role_tag) == tags.system_tag:
        _, content = _message_parts(first, 1, attr)
        return content, messages[1:], 1
    return _text(row, attr.columns.system), messages, 0


def _check_count(count: int, attr: DatasetAttr, offset: int) -> None:
    after = " after the system message" if offset else ""
    if not attr.ranking and count % 2 != 0:
        raise RowError(
            f"{count} messages{after}: a conversation needs an even number (prompt and answer turns); "
            "the last message is the answer that is learned"
        )
    if attr.ranking and count % 2 == 0:
        raise RowError(
            f"{count} messages{after}: a ranking conversation needs an odd number, ending with a prompt; "
            f"the answers go in the '{attr.columns.chosen}' and '{attr.columns.rejected}' columns"
        )


def _split_response(
    row: dict[str, Any], aligned: list[Message], attr: DatasetAttr
) -> tuple[list[Message], list[Message]]:
    """prompt and response of an aligned conversation: kto, ranking or plain."""
    cols = attr.columns
    kto_tag = row.get(cols.kto_tag) if cols.kto_tag else None
    if isinstance(kto_tag, bool):
        return aligned[:-1], _kto_pair(aligned[-1], kto_tag)
    if attr.ranking:
        chosen, rejected = row.get(cols.chosen or ""), row.get(cols.rejected or "")
        if not (isinstance(chosen, dict) and isinstance(rejected, dict)):
            raise RowError(f"ranking rows need '{cols.chosen}' and '{cols.rejected}' messages (objects)")
        answers = []
        for column, message in ((cols.chosen, chosen), (cols.rejected, rejected)):
            role, content = _message_parts(message, 0, attr)
            if role not in (attr.tags.assistant_tag, attr.tags.function_tag):
                raise RowError(
                    f"column '{column}' has role '{role}' where '{attr.tags.assistant_tag}' or "
                    f"'{attr.tags.function_tag}' is expected"
                )
            answers.append(Message("assistant" if role == attr.tags.assistant_tag else "function", content))
        return aligned, answers
    return aligned[:-1], aligned[-1:]


def convert_sharegpt(row: dict[str, Any], attr: DatasetAttr) -> Example:
    tags = attr.tags
    roles = {
        tags.user_tag: "user",
        tags.assistant_tag: "assistant",
        tags.observation_tag: "observation",
        tags.function_tag: "function",
    }
    expected = ((tags.user_tag, tags.observation_tag), (tags.assistant_tag, tags.function_tag))
    system, messages, offset = _leading_system(row, _messages(row, attr), attr)
    aligned: list[Message] = []
    for index, message in enumerate(messages):
        position = index + offset + 1
        role, content = _message_parts(message, position, attr)
        allowed = expected[index % 2]
        if role not in allowed:
            raise RowError(
                f"message {position} has role '{role}' where '{allowed[0]}' or '{allowed[1]}' is expected"
            )
        aligned.append(Message(roles[role], content))  # type: ignore[arg-type]
    _check_count(len(aligned), attr, offset)
    prompt, response = _split_response(row, aligned, attr)
    example = Example(
        prompt=prompt, response=response, system=system, tools=_tools_text(row, attr.columns.tools)
    )
    return _with_media(example, row, attr)


# openai ----------------------------------------------------------------------------------------


def _openai_calls(message: dict[str, Any], position: int) -> str:
    try:
        return json.dumps([call["function"] for call in message["tool_calls"]], ensure_ascii=False)
    except (KeyError, TypeError):
        raise RowError(f"message {position}: every tool_calls item needs a 'function' object") from None


def convert_openai(row: dict[str, Any], attr: DatasetAttr) -> Example:
    """Like sharegpt, but assistant `tool_calls` become a function message and consecutive tool
    messages merge into one observation."""
    tags = attr.tags
    roles = {
        tags.user_tag: "user",
        tags.assistant_tag: "assistant",
        tags.observation_tag: "observation",
        tags.function_tag: "function",
    }
    system, messages, offset = _leading_system(row, _messages(row, attr), attr)
    aligned: list[Message] = []
    tool_results: list[str] = []
    for index, message in enumerate(messages):
        position = index + offset + 1
        if _has_calls(message) and message.get(tags.role_tag) in (tags.assistant_tag, tags.function_tag):
            role, content = tags.function_tag, _openai_calls(message, position)
        else:
            role, content = _message_parts(message, position, attr)
        if role == tags.observation_tag:
            tool_results.append(content)
            continue
        if tool_results:
            aligned.append(Message("observation", "\n</tool_response>\n<tool_response>\n".join(tool_results)))
            tool_results = []
        if role not in roles:
            raise RowError(f"message {position} has role '{role}', which is none of {sorted(roles)}")
        aligned.append(Message(roles[role], content))  # type: ignore[arg-type]
    expected = (("user", "observation"), ("assistant", "function"))
    for index, message in enumerate(aligned):
        if message.role not in expected[index % 2]:
            allowed = expected[index % 2]
            raise RowError(
                f"turn {index + 1} (after merging tool results) is a '{message.role}' message where "
                f"'{allowed[0]}' or '{allowed[1]}' is expected"
            )
    _check_count(len(aligned), attr, offset)
    prompt, response = _split_response(row, aligned, attr)
    tools = _tools_text(row, attr.columns.tools)
    example = Example(prompt=prompt, response=response, system=_openai_system(system, tools), tools=tools)
    return _with_media(example, row, attr)


def _has_calls(message: Any) -> bool:
    return isinstance(message, dict) and bool(message.get("tool_calls"))


def _openai_system(system: str, tools: str) -> str:
    if not system:
        return "" if tools else _OPENAI_SHORT_SYSTEM
    if tools:
        return system + "\n"
    if "detailed thinking on" in system or _OPENAI_SHORT_SYSTEM in system:
        return system
    return system + "\n" + _OPENAI_SHORT_SYSTEM


Converter = Callable[[dict[str, Any], DatasetAttr], Example]

CONVERTERS: dict[str, Converter] = {
    "alpaca": convert_alpaca,
    "sharegpt": convert_sharegpt,
    "openai": convert_openai,
}


def converter_for(attr: DatasetAttr) -> Converter:
    try:
        return CONVERTERS[attr.formatting]
    except KeyError:
        raise RowError(
            f"formatting '{attr.formatting}' is not supported; supported: {sorted(CONVERTERS)}"
        ) from None
