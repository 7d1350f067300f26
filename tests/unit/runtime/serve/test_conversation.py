"""OpenAI messages → template roles, with errors that name the message at fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.data.example import Message
from kubefactory.runtime.data.templates import get_template
from kubefactory.runtime.serve.conversation import Conversation, encode_prompt, to_conversation
from kubefactory.runtime.serve.errors import APIError
from kubefactory.runtime.serve.protocol import ChatCompletionRequest


def _request(messages: list[dict[str, Any]], **extra: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "m", "messages": messages, **extra})


CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


@pytest.mark.parametrize(
    ("messages", "system", "expected"),
    [
        ([{"role": "user", "content": "hi"}], "", [Message("user", "hi")]),
        (
            [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            ],
            "be brief",
            [Message("user", "hi")],
        ),
        (
            [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "tool", "tool_call_id": "call_2", "content": "warm"},
            ],
            "",
            [
                Message("user", "weather?"),
                Message("function", json.dumps([{"name": "get_weather", "arguments": {"city": "Paris"}}])),
                Message("observation", "sunny\nwarm"),
            ],
        ),
        (
            [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ],
            "",
            [Message("user", "a"), Message("assistant", "b"), Message("user", "c")],
        ),
    ],
    ids=["user", "system-and-parts", "tool-round-trip", "history"],
)
def test_messages_map_to_template_roles(
    messages: list[dict[str, Any]], system: str, expected: list[Message]
) -> None:
    conversation = to_conversation(_request(messages))
    assert conversation.messages == expected
    assert conversation.system == system


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (
            [{"role": "user", "content": "a"}, {"role": "system", "content": "s"}],
            r"messages\[1\]: a system message may only come first",
        ),
        (
            [{"role": "assistant", "content": "a"}],
            r"messages\[0\]: expected a user or tool message here, got assistant",
        ),
        (
            [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            r"messages\[1\]: expected an assistant message here, got user",
        ),
        (
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
            r"messages\[1\]: the last message must come from the user or a tool",
        ),
        ([{"role": "system", "content": "s"}], "there is no user message"),
        (
            [
                {"role": "user", "content": "a"},
                {
                    "role": "assistant",
                    "tool_calls": [{**CALL, "function": {"name": "f", "arguments": "{oops"}}],
                },
                {"role": "tool", "content": "r"},
            ],
            r"messages\[1\]\.tool_calls\[0\]\.function\.arguments: must be JSON",
        ),
    ],
    ids=[
        "late-system",
        "assistant-first",
        "two-users",
        "ends-with-assistant",
        "only-system",
        "bad-arguments",
    ],
)
def test_bad_conversations_are_400_naming_the_message(messages: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(APIError, match=message) as caught:
        to_conversation(_request(messages))
    assert caught.value.status == 400


def test_tools_are_passed_only_when_tool_choice_allows() -> None:
    messages = [{"role": "user", "content": "hi"}]
    assert (
        json.loads(to_conversation(_request(messages, tools=[TOOL])).tools)[0]["function"]["name"]
        == "get_weather"
    )
    assert to_conversation(_request(messages, tools=[TOOL], tool_choice="none")).tools == ""


def test_prompt_matches_the_templates_training_encoding(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    template = get_template("qwen")
    history = [Message("user", "hi"), Message("assistant", "hello"), Message("user", "who are you?")]
    prompt = encode_prompt(template, tokenizer, Conversation("be brief", "", history))
    turns = template.encode_turns(tokenizer, [*history, Message("assistant", "x")], system="be brief")
    assert prompt == [token for turn in turns[:-1] for token in turn]
    text = str(tokenizer.decode(prompt))
    assert text.startswith("<|im_start|>system\nbe brief<|im_end|>\n") and text.endswith(
        "<|im_start|>assistant\n"
    )
