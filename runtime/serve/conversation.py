"""OpenAI messages → the template's conversation (system, tools, alternating turns) → prompt ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..data.example import Message
from .errors import APIError, bad_request, clip
from .protocol import ChatCompletionRequest, ChatMessage

if TYPE_CHECKING:
    from ..data.templates import Template


@dataclass(frozen=True)
class Conversation:
    system: str
    tools: str  # JSON list of tool definitions, "" for none
    messages: list[Message]  # user|observation, assistant|function, ..., ending with user|observation


_PROMPT_ROLES = ("user", "observation")
_ANSWER_ROLES = ("assistant", "function")


def to_conversation(request: ChatCompletionRequest) -> Conversation:
    """Validate the order of roles and map them to the template's roles; errors name the message."""
    systems: list[str] = []
    turns: list[tuple[int, Message]] = []
    for index, message in enumerate(request.messages):
        if message.role in ("system", "developer"):
            if turns:
                raise bad_request(
                    f"messages[{index}]: a {message.role} message may only come first", "messages"
                )
            systems.append(message.text())
        elif message.role == "tool" and turns and turns[-1][1].role == "observation":
            previous = turns[-1][1]  # consecutive tool results form one observation
            turns[-1] = (turns[-1][0], Message("observation", previous.content + "\n" + message.text()))
        else:
            turns.append((index, _to_message(index, message)))
    _check_order(turns)
    tools = ""
    if request.tools and request.uses_tools:
        tools = json.dumps([tool.model_dump() for tool in request.tools], ensure_ascii=False)
    return Conversation("\n".join(systems), tools, [message for _, message in turns])


def _to_message(index: int, message: ChatMessage) -> Message:
    if message.role == "user":
        return Message("user", message.text())
    if message.role == "tool":
        return Message("observation", message.text())
    if message.tool_calls:
        calls = []
        for number, call in enumerate(message.tool_calls):
            try:
                arguments = json.loads(call.function.arguments or "{}")
            except json.JSONDecodeError:
                raise bad_request(
                    f"messages[{index}].tool_calls[{number}].function.arguments: must be JSON text, "
                    f"got {clip(repr(call.function.arguments))}",
                    "messages",
                ) from None
            calls.append({"name": call.function.name, "arguments": arguments})
        return Message("function", json.dumps(calls, ensure_ascii=False))
    return Message("assistant", message.text())


def _check_order(turns: list[tuple[int, Message]]) -> None:
    if not turns:
        raise bad_request(
            "messages: there is no user message; send at least one message with role user", "messages"
        )
    for position, (index, message) in enumerate(turns):
        expected = _PROMPT_ROLES if position % 2 == 0 else _ANSWER_ROLES
        if message.role not in expected:
            wanted = "a user or tool" if position % 2 == 0 else "an assistant"
            got = (
                "tool"
                if message.role == "observation"
                else "assistant"
                if message.role == "function"
                else message.role
            )
            raise bad_request(
                f"messages[{index}]: expected {wanted} message here, got {got}; "
                "turns must alternate user (or tool results) and assistant",
                "messages",
            )
    last_index, last = turns[-1]
    if last.role not in _PROMPT_ROLES:
        raise bad_request(
            f"messages[{last_index}]: the last message must come from the user or a tool, not the assistant",
            "messages",
        )


def encode_prompt(template: Template, tokenizer: Any, conversation: Conversation) -> list[int]:
    """Prompt ids for the next assistant answer, as the template renders it in training."""
    from ..data.errors import RowError

    bound = template.bind(tokenizer)
    try:
        prompt, _ = bound.oneturn(
            [*conversation.messages, Message("assistant", "")], conversation.system, conversation.tools
        )
    except (RowError, ValueError) as err:
        raise APIError(
            400,
            f"cannot render the conversation with template '{template.name}': {clip(str(err), 300)}",
            param="messages",
        ) from None
    ids: list[int] = []
    for piece in prompt:
        ids += [piece] if isinstance(piece, int) else tokenizer.encode(piece, add_special_tokens=False)
    return ids
