"""The OpenAI-compatible API, driven by the official `openai` client against a live
`kubefactory api` (a subprocess on a free loopback port) serving the tiny model and two adapters."""

from __future__ import annotations

import asyncio
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
