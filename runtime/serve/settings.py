"""API server settings from the environment, with LLaMA-Factory's variable names and defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import UserError

DEFAULT_MODEL_NAME = "gpt-3.5-turbo"  # LLaMA-Factory's default for API_MODEL_NAME


@dataclass(frozen=True)
class ApiSettings:
    host: str = "0.0.0.0"
    port: int = 8000
    api_key: str | None = None
    model_name: str = DEFAULT_MODEL_NAME
    max_batch_size: int = 32


def settings_from_env(env: Mapping[str, str]) -> ApiSettings:
    """API_HOST, API_PORT, API_KEY, API_MODEL_NAME as in LLaMA-Factory; API_MAX_BATCH_SIZE bounds
    how many sequences the built-in engine decodes at once."""
    return ApiSettings(
        host=env.get("API_HOST") or ApiSettings.host,
        port=_int(env, "API_PORT", ApiSettings.port, 1, 65535),
        api_key=env.get("API_KEY") or None,
        model_name=env.get("API_MODEL_NAME") or DEFAULT_MODEL_NAME,
        max_batch_size=_int(env, "API_MAX_BATCH_SIZE", ApiSettings.max_batch_size, 1, 4096),
    )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name}: expected a whole number from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise UserError(f"{name}: expected a whole number from {low} to {high}, got {value}")
    return value
