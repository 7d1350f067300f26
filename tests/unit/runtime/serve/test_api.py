"""The OpenAI-compatible API, driven by the official `openai` client against a live
`kubefactory api` (a subprocess on a free loopback port) serving the tiny model and two adapters."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

KEY = "test-key"
HI: Any = [{"role": "user", "content": "Who are you?"}]  # Any: the client types messages as TypedDicts


@pytest.fixture(scope="module")
def server(
    tiny_model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    random_adapter: Any,
    serve_config: Any,
    api_server: Any,
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("api")
    first = random_adapter(tiny_model_dir, folder / "first", seed=1)
    second = random_adapter(tiny_model_dir, folder / "second", seed=2)
    config = serve_config(
        folder,
        model_name_or_path=str(tiny_model_dir),
        template="qwen",
        adapter_name_or_path=f"first={first},second={second}",
        max_new_tokens=32,
    )
    with api_server(config, {"API_KEY": KEY, "API_MODEL_NAME": "tiny"}) as url:
        yield url


@pytest.fixture
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0)


def test_models_lists_the_base_and_the_adapters(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["tiny", "first", "second"]


def test_chat_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="tiny", messages=HI, max_tokens=12, temperature=0)
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 12
    assert reply.usage.prompt_tokens > 5
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streaming_gives_the_same_text_in_pieces(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="tiny", messages=HI, max_tokens=16, temperature=0)
    chunks = list(
        client.chat.completions.create(
            model="tiny",
            messages=HI,
            max_tokens=16,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 3
    assert "".join(pieces) == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == whole.choices[0].finish_reason
    assert chunks[-1].usage is not None and whole.usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_raw_stream_ends_with_done(server: str) -> None:
    body = {"model": "tiny", "messages": HI, "max_tokens": 4, "stream": True}
    with httpx.stream(
        "POST", server + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"


def test_n_choices(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="tiny", messages=HI, max_tokens=8, n=3, temperature=1.0)
    assert [choice.index for choice in reply.choices] == [0, 1, 2]
    assert all(choice.message.content for choice in reply.choices)
    assert reply.usage is not None and 3 <= reply.usage.completion_tokens <= 24


def test_stop_sequence_cuts_the_answer(client: openai.OpenAI) -> None:
    free = (
        client.chat.completions.create(model="tiny", messages=HI, max_tokens=24, temperature=0)
        .choices[0]
        .message.content
    )
    assert free is not None and len(free) > 12
    stop = free[6:10]
    reply = client.chat.completions.create(
        model="tiny", messages=HI, max_tokens=24, temperature=0, stop=[stop, "never-seen"]
    )
    assert reply.choices[0].message.content == free[: free.index(stop)]
    assert reply.choices[0].finish_reason == "stop"


def test_the_model_field_selects_the_adapter(client: openai.OpenAI) -> None:
    answers = {
        name: client.chat.completions.create(model=name, messages=HI, max_tokens=16, temperature=0)
        .choices[0]
        .message.content
        for name in ("tiny", "first", "second")
    }
    assert len(set(answers.values())) == 3, answers


def test_wrong_or_missing_key_is_401(server: str) -> None:
    wrong = openai.OpenAI(base_url=server + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert "Authorization: Bearer" in caught.value.message
    missing = httpx.post(server + "/v1/chat/completions", json={"model": "tiny", "messages": HI})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(server + "/health").status_code == 200  # probes need no key


def test_malformed_request_is_400_with_a_message(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="tiny", messages=_any([{"role": "robot", "content": "x"}]), temperature=7
        )
    message = caught.value.message
    assert "messages[0].role" in message and "temperature" in message
    with pytest.raises(
        openai.BadRequestError, match=r"messages\[1\]: the last message must come from the user"
    ):
        client.chat.completions.create(
            model="tiny", messages=_any([*HI, {"role": "assistant", "content": "hi"}])
        )


def test_unknown_model_is_404_naming_the_served_ones(client: openai.OpenAI) -> None:
    with pytest.raises(
        openai.NotFoundError, match="model 'gpt-4' does not exist; this server serves: tiny, first, second"
    ):
        client.chat.completions.create(model="gpt-4", messages=HI)


def test_a_prompt_longer_than_the_context_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="tiny", messages=_any([{"role": "user", "content": "hello " * 5000}])
        )
    assert caught.value.code == "context_length_exceeded"
    assert re.search(
        r"the messages take \d+ tokens but this model's context is 4096 tokens", caught.value.message
    )


def test_concurrent_requests_are_batched_and_measured(server: str) -> None:
    async def burst() -> list[str | None]:
        client = openai.AsyncOpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0)
        replies = await asyncio.gather(
            *[
                client.chat.completions.create(model="tiny", messages=HI, max_tokens=24, temperature=1.0)
                for _ in range(6)
            ]
        )
        return [reply.choices[0].message.content for reply in replies]

    assert all(asyncio.run(burst()))
    metrics = httpx.get(server + "/metrics").text
    one_row = _sample(metrics, 'kubefactory_engine_batch_size_bucket{le="1.0"}')
    all_steps = _sample(metrics, "kubefactory_engine_batch_size_count")
    assert all_steps > one_row, "some decoding steps must have carried more than one sequence"
    assert _sample(metrics, 'kubefactory_time_to_first_token_seconds_count{model="tiny"}') >= 6
    assert _sample(metrics, 'kubefactory_request_latency_seconds_count{model="tiny"}') >= 6
    assert _sample(metrics, 'kubefactory_completion_tokens_total{model="tiny"}') > 6
    assert _sample(metrics, 'kubefactory_prompt_tokens_total{model="tiny"}') > 6
    assert _sample(metrics, "kubefactory_requests_in_flight") == 0
    assert _sample(metrics, 'kubefactory_http_requests_total{path="/v1/chat/completions",status="200"}') >= 6


def _any(value: Any) -> Any:
    return value


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} is not in /metrics")


# -- the parameters and routes added by the hardening issue (each was ignored or missing before) ----

PERSON: Any = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
WEATHER: Any = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "the weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 12}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {"type": "function", "function": {"name": "time", "parameters": {"type": "object", "properties": {}}}},
]


def test_seed_makes_sampling_reproducible(client: openai.OpenAI) -> None:
    def answer(seed: int) -> str | None:
        reply = client.chat.completions.create(
            model="tiny", messages=HI, max_tokens=12, temperature=1.0, seed=seed
        )
        return reply.choices[0].message.content

    first = answer(7)
    assert answer(7) == first
    assert len({first, answer(8), answer(9)}) > 1  # an unseeded-looking spread over other seeds


def test_logprobs_and_top_logprobs(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny", messages=HI, max_tokens=6, temperature=0, logprobs=True, top_logprobs=3
    )
    choice = reply.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    assert reply.usage is not None and len(choice.logprobs.content) == reply.usage.completion_tokens
    for item in choice.logprobs.content:
        assert item.logprob <= 0 and len(item.top_logprobs) == 3
        values = [top.logprob for top in item.top_logprobs]
        assert values == sorted(values, reverse=True)
        assert item.token == item.top_logprobs[0].token  # greedy picks the likeliest
        assert item.logprob == pytest.approx(values[0])
    assert "".join(item.token for item in choice.logprobs.content) == choice.message.content


def test_json_schema_mode_returns_json_matching_the_schema(client: openai.OpenAI) -> None:
    for seed in range(3):
        reply = client.chat.completions.create(
            model="tiny",
            messages=HI,
            max_tokens=64,
            temperature=1.0,
            seed=seed,
            response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}},
        )
        content = reply.choices[0].message.content
        assert content is not None and reply.choices[0].finish_reason == "stop", content
        person = json.loads(content)
        assert set(person) == {"name", "age"}
        assert isinstance(person["name"], str) and len(person["name"]) <= 8
        assert isinstance(person["age"], int) and 0 <= person["age"] <= 150


def test_json_object_mode_starts_an_object(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny", messages=HI, max_tokens=48, seed=1, response_format={"type": "json_object"}
    )
    content = reply.choices[0].message.content or ""
    assert content.startswith("{")
    if reply.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(content), dict)


def test_a_schema_that_cannot_be_compiled_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="response_format"):
        client.chat.completions.create(
            model="tiny",
            messages=HI,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "nonsense"}},
            },
        )


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "weather"}}])
def test_tool_choice_forces_a_call(client: openai.OpenAI, choice: Any) -> None:
    reply = client.chat.completions.create(
        model="tiny", messages=HI, max_tokens=48, tools=WEATHER, tool_choice=choice, seed=3
    )
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls" and message.tool_calls
    call = message.tool_calls[0]
    assert call.type == "function"
    arguments = json.loads(call.function.arguments)
    if isinstance(choice, dict):
        assert call.function.name == "weather" and set(arguments) == {"city"}
    else:
        assert call.function.name in ("weather", "time")


def test_tool_choice_naming_an_unknown_function_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="tool_choice: function 'nope' is not among the tools"):
        client.chat.completions.create(
            model="tiny",
            messages=HI,
            tools=WEATHER,
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )


def test_forced_tool_calls_stream_as_openai_streams_them(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="tiny",
            messages=HI,
            max_tokens=48,
            tools=WEATHER,
            tool_choice={"type": "function", "function": {"name": "weather"}},
            seed=3,
            stream=True,
        )
    )
    deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert len(deltas) > 2, "the call arrives in pieces"
    head = deltas[0][0]
    assert head.index == 0 and head.id and head.function and head.function.name == "weather"
    arguments = "".join((d[0].function.arguments or "") for d in deltas if d[0].function)
    assert set(json.loads(arguments)) == {"city"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_text_completions(client: openai.OpenAI) -> None:
    reply = client.completions.create(
        model="tiny", prompt="Once upon a time", max_tokens=6, logprobs=2, seed=1
    )
    choice = reply.choices[0]
    assert reply.object == "text_completion" and choice.text
    assert choice.logprobs is not None and choice.logprobs.tokens is not None
    assert "".join(choice.logprobs.tokens) == choice.text
    assert choice.logprobs.top_logprobs and all(len(top) <= 2 for top in choice.logprobs.top_logprobs)
    assert reply.usage is not None and reply.usage.completion_tokens == len(choice.logprobs.tokens)
    streamed = client.completions.create(
        model="tiny", prompt="Once upon a time", max_tokens=6, seed=1, stream=True
    )
    assert "".join(c.choices[0].text for c in streamed if c.choices) == choice.text


def test_retrieve_a_model(client: openai.OpenAI) -> None:
    assert client.models.retrieve("first").id == "first"
    with pytest.raises(openai.NotFoundError, match="model 'gpt-4' does not exist"):
        client.models.retrieve("gpt-4")


def test_version(server: str) -> None:
    answer = httpx.get(server + "/version").json()
    assert answer["engine"] == "huggingface" and answer["version"] and answer["threads"] >= 1


def test_text_completions_limits(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="echo: not supported"):
        client.completions.create(model="tiny", prompt="hi", echo=True)
    with pytest.raises(openai.BadRequestError, match=r"9 prompts × n=2 choices exceed the limit of 16"):
        client.completions.create(model="tiny", prompt=["hi"] * 9, n=2)
    reply = client.completions.create(model="tiny", prompt=["hi", "hello"], n=2, max_tokens=3)
    assert [choice.index for choice in reply.choices] == [0, 1, 2, 3]
