"""Validation errors become one OpenAI-style message that names every bad field."""

from __future__ import annotations

import pydantic
import pytest
from kubefactory.runtime.serve.errors import APIError, validation_message
from kubefactory.runtime.serve.protocol import ChatCompletionRequest


@pytest.mark.parametrize(
    ("body", "parts", "param"),
    [
        ({"model": "m"}, ["messages: Field required"], "messages"),
        ({"model": "m", "messages": []}, ["messages: List should have at least 1 item"], "messages"),
        (
            {"model": "m", "messages": [{"role": "bot", "content": "x"}]},
            ["messages[0].role: Input should be"],
            "messages[0].role",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 9, "n": 0},
            [
                "temperature: Input should be less than or equal to 2 (got 9)",
                "n: Input should be greater than or equal to 1",
            ],
            "temperature",
        ),
        ({"messages": [{"role": "user", "content": "x"}]}, ["model: Field required"], "model"),
    ],
)
def test_validation_message_names_each_field(body: dict, parts: list[str], param: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        ChatCompletionRequest.model_validate(body)
    message, first = validation_message([dict(e) for e in caught.value.errors()])
    assert message.startswith("invalid request: ")
    for part in parts:
        assert part in message
    assert first == param


def test_api_error_body_has_openais_shape() -> None:
    error = APIError(404, "model 'x' does not exist", param="model", code="model_not_found")
    assert error.body() == {
        "error": {
            "message": "model 'x' does not exist",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


def test_a_lone_surrogate_is_named_by_its_field() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        ChatCompletionRequest.model_validate(
            {
                "model": "m",
                "messages": [{"role": "user", "content": "ok"}, {"role": "user", "content": "a\ud800"}],
            }
        )
    message, _ = validation_message(caught.value.errors())
    assert message == (
        "invalid request: messages[1].content: contains a lone UTF-16 surrogate "
        "(an unpaired \\ud800-\\udfff escape), which is not text"
    )


def test_quoted_input_is_clipped() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        ChatCompletionRequest.model_validate({"model": "m", "messages": [{"role": "r" * 10_000}]})
    message, _ = validation_message(caught.value.errors())
    assert len(message) < 400 and "(10002 characters)" in message
