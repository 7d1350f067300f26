"""API_* environment variables, as LLaMA-Factory reads them, with clear errors."""

from __future__ import annotations

import pytest
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.serve.settings import ApiSettings, settings_from_env


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ApiSettings("0.0.0.0", 8000, None, "gpt-3.5-turbo", 32)),
        (
            {
                "API_HOST": "127.0.0.1",
                "API_PORT": "9000",
                "API_KEY": "k",
                "API_MODEL_NAME": "tiny",
                "API_MAX_BATCH_SIZE": "4",
            },
            ApiSettings("127.0.0.1", 9000, "k", "tiny", 4),
        ),
        ({"API_KEY": "", "API_PORT": ""}, ApiSettings()),
    ],
)
def test_settings_from_env(env: dict[str, str], expected: ApiSettings) -> None:
    assert settings_from_env(env) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"API_PORT": "http"}, "API_PORT: expected a whole number from 1 to 65535, got 'http'"),
        ({"API_PORT": "70000"}, "API_PORT: expected a whole number from 1 to 65535, got 70000"),
        ({"API_MAX_BATCH_SIZE": "0"}, "API_MAX_BATCH_SIZE: expected a whole number from 1 to 4096, got 0"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as caught:
        settings_from_env(env)
    assert str(caught.value) == message
