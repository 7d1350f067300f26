"""The template registry: built-in templates are data in builtin.yaml."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from ...errors import UserError
from .template import CONTENT, Template

_SLOT_KEYS = ("user", "assistant", "system", "function", "observation", "prefix")
_TUPLE_KEYS = (*_SLOT_KEYS, "stop_words", "thought_words", "tool_call_words")
_KNOWN_KEYS = set(Template.__dataclass_fields__) - {"name", "extra"} | {"extends"}


def _resolve(name: str, table: dict[str, dict[str, Any]], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A template's keys with those of the template it extends underneath."""
    data = dict(table[name] or {})
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if parent not in table or parent in seen:
        raise ValueError(f"builtin template '{name}' extends unknown or circular template '{parent}'")
    return {**_resolve(parent, table, (*seen, name)), **data}


def template_from_data(name: str, data: dict[str, Any]) -> Template:
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        raise ValueError(f"template '{name}': unknown keys {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}")
    kwargs: dict[str, Any] = {"name": name}
    for key, value in data.items():
        kwargs[key] = tuple(value) if key in _TUPLE_KEYS else value
    if "assistant" not in data and data.get("efficient_eos"):
        kwargs["assistant"] = (CONTENT,)
    return Template(**kwargs)


@cache
def builtin_templates() -> dict[str, Template]:
    text = resources.files(__package__).joinpath("builtin.yaml").read_text(encoding="utf-8")
    table: dict[str, dict[str, Any]] = yaml.safe_load(text)
    return {name: template_from_data(name, _resolve(name, table)) for name in table}


def get_template(name: str) -> Template:
    templates = builtin_templates()
    if name not in templates:
        import difflib

        close = difflib.get_close_matches(name, list(templates), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UserError(f"template: '{name}' is unknown{hint}; known: {', '.join(sorted(templates))}")
    return templates[name]
