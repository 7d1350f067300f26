"""Read a YAML or JSON config and apply command-line overrides, as llamafactory-cli does."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, ConfigIssue
from .train_config import TrainConfig, validate_config


def read_config_file(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise ConfigError([ConfigIssue(str(file), "config file not found")], "command line")
    text = file.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise ConfigError([ConfigIssue(str(file), f"not valid YAML/JSON: {err}")], "config file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(str(file), "must be a mapping of keys to values")], "config file")
    return data


def parse_overrides(args: Sequence[str]) -> dict[str, Any]:
    """Parse `key=value`, `--key value` and `--key=value`; values are read as YAML scalars."""
    values: dict[str, Any] = {}
    issues: list[ConfigIssue] = []
    items = list(args)
    i = 0
    while i < len(items):
        item = items[i]
        if item.startswith("--"):
            key, eq, raw = item[2:].partition("=")
            if not eq:
                if i + 1 < len(items) and not items[i + 1].startswith("--"):
                    raw = items[i + 1]
                    i += 1
                else:
                    raw = "true"  # a bare flag switches a boolean on
        else:
            key, eq, raw = item.partition("=")
            if not eq:
                issues.append(ConfigIssue(item, "expected key=value"))
                i += 1
                continue
        values[key.strip()] = _scalar(raw)
        i += 1
    if issues:
        raise ConfigError(issues, "command line")
    return values


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _scalar(raw: str) -> Any:
    if raw == "":
        return ""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)  # YAML 1.1 reads 1e-4 as text; users mean a number
    return value


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """The one way the runtime gets its settings: file, then overrides, then validation."""
    values = read_config_file(path) if path is not None else {}
    values.update(parse_overrides(overrides))
    source = f"config {path}" if path is not None else "config"
    return validate_config(values, source)
