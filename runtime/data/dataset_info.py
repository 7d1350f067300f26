"""`dataset_info.json`: dataset name → where the data lives and how its columns are named."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import DataError

DATASET_INFO = "dataset_info.json"
ONLINE = "ONLINE"  # dataset_dir value meaning: every name is a hub dataset id

log = logging.getLogger(__name__)

Source = Literal["hf_hub", "ms_hub", "om_hub", "script", "cloud_file", "file"]


def _warn_unknown(model: type[BaseModel], data: Any, where: str) -> Any:
    """LLaMA-Factory ignores keys it does not know; we do too, but say so (a typo loses a column)."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(model.model_fields))
        if unknown:
            import difflib

            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, list(model.model_fields), n=1)
                hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            log.warning("%s: ignoring unknown keys %s", where, ", ".join(hints))
            return {k: v for k, v in data.items() if k in model.model_fields}
    return data


class Columns(BaseModel):
    model_config = ConfigDict(extra="ignore")
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

    @model_validator(mode="before")
    @classmethod
    def _unknown(cls, data: Any) -> Any:
        return _warn_unknown(cls, data, "dataset_info.json columns")


class Tags(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role_tag: str = "from"
    content_tag: str = "value"
    user_tag: str = "human"
    assistant_tag: str = "gpt"
    observation_tag: str = "observation"
    function_tag: str = "function_call"
    system_tag: str | None = "system"

    @model_validator(mode="before")
    @classmethod
    def _unknown(cls, data: Any) -> Any:
        return _warn_unknown(cls, data, "dataset_info.json tags")


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
    def load_from(self) -> Source | Literal["none"]:
        """Where the rows come from, in LLaMA-Factory's order of precedence: a hub (ModelScope or
        Modelers when chosen with USE_MODELSCOPE_HUB / USE_OPENMIND_HUB or when it is the only hub
        given), a script or folder, a cloud file, a local file."""
        hf, ms, om = self.hf_hub_url, self.ms_hub_url, self.om_hub_url
        if hf or ms or om:
            if ms and (_env_on("USE_MODELSCOPE_HUB") or not hf):
                return "ms_hub"
            if om and (_env_on("USE_OPENMIND_HUB") or not hf):
                return "om_hub"
            return "hf_hub"
        if self.script_url:
            return "script"
        if self.cloud_file_name:
            return "cloud_file"
        if self.file_name:
            return "file"
        return "none"

    @property
    def location(self) -> str:
        """The hub id, script, cloud path or file name the rows are read from."""
        key = {
            "hf_hub": self.hf_hub_url,
            "ms_hub": self.ms_hub_url,
            "om_hub": self.om_hub_url,
            "script": self.script_url,
            "cloud_file": self.cloud_file_name,
            "file": self.file_name,
        }.get(self.load_from)
        return key or ""

    @property
    def source(self) -> str:
        """The dataset_info.json key that names the rows' location."""
        return {
            "hf_hub": "hf_hub_url",
            "ms_hub": "ms_hub_url",
            "om_hub": "om_hub_url",
            "script": "script_url",
            "cloud_file": "cloud_file_name",
            "file": "file_name",
        }.get(self.load_from, "none")


def _env_on(name: str) -> bool:
    return os.environ.get(name, "0").lower() in ("true", "y", "1")


def load_dataset_info(dataset_dir: str | Path) -> dict[str, dict[str, Any]]:
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


def _online(names: list[str]) -> list[DatasetAttr]:
    key = (
        "ms_hub_url"
        if _env_on("USE_MODELSCOPE_HUB")
        else "om_hub_url"
        if _env_on("USE_OPENMIND_HUB")
        else "hf_hub_url"
    )
    return [DatasetAttr.model_validate({"name": name, key: name}) for name in names]


def resolve_datasets(names: list[str], dataset_dir: str | Path) -> list[DatasetAttr]:
    """Look each name up in dataset_info.json; every unknown name is reported at once."""
    if str(dataset_dir) == ONLINE:
        return _online(names)
    info = load_dataset_info(dataset_dir)
    path = Path(dataset_dir) / DATASET_INFO
    missing = [name for name in names if name not in info]
    if missing:
        import difflib

        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, list(info), n=1)
            hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise DataError(
            f"dataset {', '.join(hints)} not defined in {path}; defined: {', '.join(sorted(info))}"
        )
    attrs = []
    for name in names:
        entry = info[name]
        if not isinstance(entry, dict):
            raise DataError(f"dataset '{name}' in {path} must be an object, got {type(entry).__name__}")
        try:
            attr = DatasetAttr.model_validate({**entry, "name": name})
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise DataError(f"dataset '{name}' in {path}: {problems}") from None
        if attr.load_from == "none":
            raise DataError(
                f"dataset '{name}' in {path} names no source: set file_name, hf_hub_url, ms_hub_url, "
                "om_hub_url, script_url or cloud_file_name"
            )
        attrs.append(attr)
    return attrs
