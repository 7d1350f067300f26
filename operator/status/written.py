"""A status as the API server will store it: built through its model, written by alias.

The CRDs' structural schemas prune unknown fields silently, so a misspelt status key would be
lost without a word. Every planner's status goes through the kind's status model first: the
models forbid unknown fields (and are the schemas' source), so such a key fails at once, in the
planner's own tests.
"""

from __future__ import annotations

from typing import Any

from ..api.common import ApiModel


def written(model: type[ApiModel], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` validated by ``model`` and dumped as JSON by alias (unset and null fields left out)."""
    return model.model_validate(values).model_dump(mode="json", by_alias=True, exclude_none=True)
