"""`dataset_info.json`: dataset name → where the data lives and how its columns are named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import DataError

DATASET_INFO = "dataset_info.json"


class Columns(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str | None = "instruction"
    query: str | None = "input"
    response: str | None = "output"
    history: str | None = None
    messages: str | None = "conversations"
    system: str | None = None
    tools: str | None = None
    images: str | None = None
    videos: str | None = None
    audios: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    kto_tag: str | None = None


class Tags(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role_tag: str = "from"
    content_tag: str = "value"
    user_tag: str = "human"
    assistant_tag: str = "gpt"
    observation_tag: str = "observation"
    function_tag: str = "function_call"
    system_tag: str = "system"


class DatasetAttr(BaseModel):
    """One entry of dataset_info.json, with LLaMA-Factory's defaults."""

    model_config = ConfigDict(extra="ignore")
    name: str = ""
    hf_hub_url: str | None = None
    ms_hub_url: str | None = None
    om_hub_url: str | None = None
    script_url: str | None = None
    cloud_file_name: str | None = None
    file_name: str | None = None
    formatting: Literal["alpaca", "sharegpt", "openai"] = "alpaca"
    ranking: bool = False
    subset: str | None = None
    split: str = "train"
    folder: str | None = None
    num_samples: int | None = Field(None, ge=1)
    columns: Columns = Field(default_factory=Columns)
    tags: Tags = Field(default_factory=Tags)

    @property
    def source(self) -> str:
        for key in ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name", "file_name"):
            if getattr(self, key):
                return key
        return "none"


def load_dataset_info(dataset_dir: str | Path) -> dict[str, dict[str, object]]:
    path = Path(dataset_dir) / DATASET_INFO
    if not path.is_file():
        raise DataError(f"{path} not found: dataset_dir must be the folder holding {DATASET_INFO}")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(info, dict):
        raise DataError(f"{path} must be a JSON object mapping dataset names to descriptions")
    return info


def resolve_datasets(names: list[str], dataset_dir: str | Path) -> list[DatasetAttr]:
    """Look each name up in dataset_info.json; every unknown name is reported at once."""
    info = load_dataset_info(dataset_dir)
    path = Path(dataset_dir) / DATASET_INFO
    missing = [name for name in names if name not in info]
    if missing:
        import difflib

        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, list(info), n=1)
            hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise DataError(f"dataset {', '.join(hints)} not defined in {path}; defined: {', '.join(sorted(info))}")
    attrs = []
    for name in names:
        try:
            attr = DatasetAttr.model_validate({**info[name], "name": name})
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise DataError(f"dataset '{name}' in {path}: {problems}") from None
        if attr.source == "none":
            raise DataError(f"dataset '{name}' in {path} names no source: set file_name, hf_hub_url or cloud_file_name")
        attrs.append(attr)
    return attrs
