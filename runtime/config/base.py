"""The pydantic base every argument group shares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ArgGroup(BaseModel):
    """A group of LLaMA-Factory-compatible keys. Unknown keys are errors, never ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False, populate_by_name=True)


def arg(default: Any, description: str, **kwargs: Any) -> Any:
    """A field with a default and the description ``kubectl explain`` and ``--help`` show."""
    return Field(default, description=description, **kwargs)


def split_list(value: str | list[str] | None) -> list[str]:
    """LLaMA-Factory writes lists as comma-separated strings; YAML lists are accepted too."""
    if value is None:
        return []
    items = value if isinstance(value, list) else value.split(",")
    return [item.strip() for item in items if item.strip()]
