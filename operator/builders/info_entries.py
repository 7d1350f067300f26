"""A Dataset spec as ``dataset_info.json`` entries: one to read the raw data, one for the prepared copy.

The runtime reads data through ``dataset_info.json`` (LLaMA-Factory's vocabulary); a Dataset's
camelCase fields map one-to-one onto an entry's snake_case keys.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from ..api.dataset import DatasetSpec
from .layout import PREPARED_FILE

FILE_EXTENSIONS = {
    "json": ".json",
    "jsonl": ".jsonl",
    "csv": ".csv",
    "parquet": ".parquet",
    "arrow": ".arrow",
    "txt": ".txt",
}


def _reading(spec: DatasetSpec) -> dict[str, Any]:
    """How rows are read: formatting, ranking, columns and tags (unset ones keep the runtime's defaults)."""
    entry: dict[str, Any] = {"formatting": spec.formatting}
    if spec.ranking:
        entry["ranking"] = True
    if spec.columns is not None and (columns := spec.columns.model_dump(exclude_none=True)):
        entry["columns"] = columns
    if spec.tags is not None and (tags := spec.tags.model_dump(exclude_none=True)):
        entry["tags"] = tags
    return entry


@dataclass(frozen=True)
class SourceEntry:
    """The entry the prepare command reads, relative to the mounted source, and a URL to fetch first."""

    entry: dict[str, Any]
    download: str | None = None


def source_entry(spec: DatasetSpec) -> SourceEntry:
    source = spec.source
    reading = _reading(spec)
    if source.pvc is not None:
        return SourceEntry({"file_name": source.pvc.path, **reading})
    if source.config_map is not None:
        # a key is one file; without one, the mounted folder holds every key as a file
        return SourceEntry({"file_name": source.config_map.key or ".", **reading})
    uri = str(source.uri)
    scheme, _, rest = uri.partition("://")
    if scheme == "hf":
        where: dict[str, Any] = {"hf_hub_url": rest, "split": spec.split}
        if spec.subset:
            where["subset"] = spec.subset
        return SourceEntry({**where, **reading})
    if scheme in ("s3", "gs"):
        return SourceEntry({"cloud_file_name": uri, **reading})
    name = posixpath.basename(rest.split("?")[0]) or "data"
    if spec.file_type and not name.endswith(FILE_EXTENSIONS[spec.file_type]):
        name += FILE_EXTENSIONS[spec.file_type]
    return SourceEntry({"file_name": name, **reading}, download=uri)


def prepared_entry(spec: DatasetSpec, folder: str) -> dict[str, Any]:
    """The entry training reads: the prepared JSON lines in ``folder``, read as the spec says."""
    entry: dict[str, Any] = {"file_name": f"{folder.rstrip('/')}/{PREPARED_FILE}", **_reading(spec)}
    if spec.num_samples is not None:
        entry["num_samples"] = spec.num_samples
    return entry
