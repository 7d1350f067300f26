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
