"""Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def clip(text: str, limit: int = 64) -> str:
    """At most `limit` characters of client text, for quoting it in an error message."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def validation_message(errors: Sequence[dict[str, Any]]) -> tuple[str, str | None]:
    """pydantic/FastAPI validation errors → one message naming each field, and the first field."""
    parts = []
    first: str | None = None
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p != "body"]
        if error.get("type") == "json_invalid":
            return "the request body is not valid JSON: " + clip(
                str(error.get("ctx", {}).get("error", "")), 200
            ), None
        field = _field_path(loc)
        first = first or field or None
        given = error.get("input")
        shown = (
            f" (got {clip(repr(given))})"
            if error.get("type") != "missing" and not isinstance(given, dict | list)
            else ""
        )
        message = str(error.get("msg", "invalid value"))
        if not field and error.get("type") == "value_error":  # a check of the whole body names its field
            parts.append(message.removeprefix("Value error, "))
            continue
        parts.append(f"{field or 'body'}: {message}{shown}")
    return "invalid request: " + "; ".join(parts[:5]), first


def _field_path(loc: list[str]) -> str:
    path = ""
    for part in loc:
        if part.isdigit():
            path += f"[{part}]"
        elif part in {"str", "list[TextPart]", "function-after", "literal"} or "[" in part:
            continue  # the union member pydantic tried, not a field
        else:
            path += f".{part}" if path else part
    return path
