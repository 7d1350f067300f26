"""Dataset formats → Example. One function per format, chosen from a table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .dataset_info import DatasetAttr
from .example import Example, Message


class RowError(ValueError):
    """Why a row cannot be used; the caller adds the dataset and row number."""


def _text(row: dict[str, Any], column: str | None) -> str:
    """A missing optional column counts as empty (LLaMA-Factory 0.9.5 raises KeyError here)."""
    if not column:
        return ""
    value = row.get(column)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RowError(f"column '{column}' must be a string, got {type(value).__name__}")
    return value


def convert_alpaca(row: dict[str, Any], attr: DatasetAttr) -> Example:
    cols = attr.columns
    prompt: list[Message] = []
    history = row.get(cols.history) if cols.history else None
    if isinstance(history, list):
        for turn, pair in enumerate(history):
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                raise RowError(f"column '{cols.history}' item {turn} must be a [prompt, response] pair")
            prompt += [Message("user", str(pair[0])), Message("assistant", str(pair[1]))]
    query = [part for part in (_text(row, cols.prompt), _text(row, cols.query)) if part]
    prompt.append(Message("user", "\n".join(query)))
    return Example(
        prompt=prompt,
        response=_alpaca_response(row, attr),
        system=_text(row, cols.system),
        tools=_tools_text(row.get(cols.tools) if cols.tools else None),
        images=_media(row, cols.images),
        videos=_media(row, cols.videos),
        audios=_media(row, cols.audios),
    )


def _alpaca_response(row: dict[str, Any], attr: DatasetAttr) -> list[Message]:
    cols = attr.columns
    kto_tag = row.get(cols.kto_tag) if cols.kto_tag else None
    if isinstance(kto_tag, bool):
        answer = Message("assistant", _text(row, cols.response))
        empty = Message("assistant", "")
        return [answer, empty] if kto_tag else [empty, answer]
    if attr.ranking:
        chosen, rejected = row.get(cols.chosen or ""), row.get(cols.rejected or "")
        if not (isinstance(chosen, str) and isinstance(rejected, str)):
            raise RowError(f"ranking rows need string columns '{cols.chosen}' and '{cols.rejected}'")
        return [Message("assistant", chosen), Message("assistant", rejected)]
    response = row.get(cols.response) if cols.response else None
    return [Message("assistant", response)] if isinstance(response, str) else []


def _tools_text(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False)


def _media(row: dict[str, Any], column: str | None) -> list[str]:
    if not column or row.get(column) is None:
        return []
    value = row[column]
    return [value] if isinstance(value, str) else list(value)


Converter = Callable[[dict[str, Any], DatasetAttr], Example]

CONVERTERS: dict[str, Converter] = {"alpaca": convert_alpaca}


def converter_for(attr: DatasetAttr) -> Converter:
    try:
        return CONVERTERS[attr.formatting]
    except KeyError:
        raise RowError(f"formatting '{attr.formatting}' is not supported yet; supported: {sorted(CONVERTERS)}") from None
