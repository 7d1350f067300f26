"""A tool-call round trip through the API: the tiny model is taught (in a few seconds) one
conversation in which it calls a tool and then answers from the tool's result; the server must
turn its output into OpenAI `tool_calls`, and accept the result back as a `tool` message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from kubefactory.runtime.data.example import Message
from kubefactory.runtime.data.templates import get_template
from kubefactory.runtime.serve.conversation import to_conversation
from kubefactory.runtime.serve.protocol import ChatCompletionRequest

TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
QUESTION: Any = {"role": "user", "content": "What is the weather in Paris?"}
CALL = {"name": "get_weather", "arguments": {"city": "Paris"}}
RESULT = '{"temperature": 22, "sky": "clear"}'
ANSWER = "It is 22 degrees and clear in Paris."


def _teach(base: Path, folder: Path, steps: int = 200) -> Path:
    """Full fine-tuning of a copy of the tiny model on the one conversation, encoded exactly as the
    server will encode it (same tools JSON, same template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    request = ChatCompletionRequest.model_validate({"model": "m", "messages": [QUESTION], "tools": TOOLS})
    conversation = to_conversation(request)
    messages = [
        *conversation.messages,
        Message("function", json.dumps([CALL])),
        Message("observation", RESULT),
        Message("assistant", ANSWER),
    ]
    ids: list[int] = []
    labels: list[int] = []
    for prompt, response in get_template("qwen").encode_pairs(
        tokenizer, messages, conversation.system, conversation.tools
    ):
        ids += prompt + response
        labels += [-100] * len(prompt) + response
    inputs, targets = torch.tensor([ids]), torch.tensor([labels])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=inputs, labels=targets).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    final = float(loss.detach())
    assert final < 0.05, f"the tiny model did not learn the conversation (loss {final:.3f})"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def client(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory, serve_config: Any, api_server: Any
) -> Iterator[openai.OpenAI]:
    folder = tmp_path_factory.mktemp("tools")
    model = _teach(tiny_model_dir, folder / "model")
    config = serve_config(folder, model_name_or_path=str(model), template="qwen", do_sample=False)
    with api_server(config, {"API_MODEL_NAME": "tool-model"}) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)


def _call(client: openai.OpenAI, messages: Any, **extra: Any) -> Any:
    return client.chat.completions.create(
        model="tool-model", messages=messages, tools=TOOLS, max_tokens=64, **extra
    )


def test_tool_call_round_trip(client: openai.OpenAI) -> None:
    first = _call(client, [QUESTION])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None and len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    history = [
        QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": RESULT},
    ]
    second = _call(client, history)
    assert second.choices[0].message.content == ANSWER
    assert second.choices[0].message.tool_calls is None
    assert second.choices[0].finish_reason == "stop"


def test_streamed_tool_calls_arrive_as_tool_call_deltas(client: openai.OpenAI) -> None:
    chunks = list(_call(client, [QUESTION], stream=True))
    deltas = [call for chunk in chunks if chunk.choices for call in (chunk.choices[0].delta.tool_calls or [])]
    # as OpenAI streams them: the first delta of a call has its id and name, the arguments follow in pieces
    calls: dict[int, list[str]] = {}
    for delta in deltas:
        assert delta.function is not None
        if delta.index not in calls:
            assert delta.id and delta.function.name
        entry = calls.setdefault(delta.index, ["", ""])
        entry[0] += delta.function.name or ""
        entry[1] += delta.function.arguments or ""
    assert [(name, json.loads(arguments)) for name, arguments in calls.values()] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert len(deltas) > 1
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "tool_calls"


def test_without_tools_the_call_text_stays_content(client: openai.OpenAI) -> None:
    reply = _call(client, [QUESTION], tool_choice="none")
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].finish_reason in ("stop", "length")
