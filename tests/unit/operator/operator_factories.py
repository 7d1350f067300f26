"""Plain helpers shared by the operator's unit tests (importable by name; ``conftest`` is not)."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``extra`` into a copy of ``base`` (None removes a key)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
