"""The template registry: built-in templates are data in builtin.yaml."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from ...errors import UserError
from .template import Template

_SLOT_KEYS = ("user", "assistant", "system", "function", "observation", "prefix")


def _from_data(name: str, data: dict[str, Any]) -> Template:
    kwargs: dict[str, Any] = {"name": name}
    for key, value in data.items():
        if key in _SLOT_KEYS or key in ("stop_words", "thought_words"):
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    if "assistant" not in data and data.get("efficient_eos"):
        kwargs["assistant"] = ("{{content}}",)
    return Template(**kwargs)


@cache
def builtin_templates() -> dict[str, Template]:
    text = resources.files(__package__).joinpath("builtin.yaml").read_text(encoding="utf-8")
    return {name: _from_data(name, data or {}) for name, data in yaml.safe_load(text).items()}


def get_template(name: str) -> Template:
    templates = builtin_templates()
    if name not in templates:
        import difflib

        close = difflib.get_close_matches(name, list(templates), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UserError(f"template '{name}' is unknown{hint}; known: {', '.join(sorted(templates))}")
    return templates[name]
