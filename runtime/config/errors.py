"""Config errors that name the key, say what is allowed, and come all at once."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConfigIssue:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ConfigError(ValueError):
    """Every problem of one config, each naming its key."""

    def __init__(self, issues: Sequence[ConfigIssue], source: str = "config") -> None:
        self.issues = list(issues)
        self.source = source
        count = len(self.issues)
        lines = [f"invalid {source} ({count} problem{'s' if count != 1 else ''}):"]
        lines += [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))


def suggest(key: str, known: Iterable[str]) -> str | None:
    """The closest known key to a misspelt one, if any is close enough."""
    matches = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


_EXPECTED = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer, not a fraction",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
}


def issue_from_pydantic(error: dict[str, Any], known: Iterable[str]) -> ConfigIssue:
    """Translate one pydantic error into a ConfigIssue a user can act on."""
    loc = [str(part) for part in error.get("loc", ()) if not _is_union_branch(part)]
    field = ".".join(loc) or "(config)"
    kind = error.get("type", "")
    given = error.get("input")
    if kind == "extra_forbidden":
        hint = suggest(loc[0], known) if loc else None
        tail = f"; did you mean '{hint}'?" if hint else "; see `kubefactory train --help` for the keys"
        return ConfigIssue(field, f"unknown key{tail}")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return ConfigIssue(field, f"got {given!r}; allowed values: {expected}")
    if kind in _EXPECTED:
        return ConfigIssue(field, f"{_EXPECTED[kind]}, got {given!r}")
    message = str(error.get("msg", "invalid value"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return ConfigIssue(
        field, f"{message} (got {given!r})" if kind not in ("value_error", "missing") else message
    )


def _is_union_branch(part: Any) -> bool:
    # pydantic reports which union member failed ("int", "str", "list[str]"); users need the key only
    return isinstance(part, str) and (part in {"int", "str", "float", "bool", "none"} or "[" in part)


def dedupe(issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    """Union types fail once per member: keep the first message per key."""
    seen: dict[str, ConfigIssue] = {}
    for issue in issues:
        seen.setdefault(issue.field, issue)
    return list(seen.values())
