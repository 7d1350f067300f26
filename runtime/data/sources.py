"""Where a dataset's rows come from: local files, a hub (its local cache first, else downloaded
through the runtime's fetcher), a cloud bucket, a folder loaded by `datasets`. Machines that train
often cannot reach a hub: a miss that cannot be downloaded says how to pre-fetch."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dataset_info import DatasetAttr
from .errors import DataError
from .readers import data_files, iter_rows, read_rows

CLOUD_PACKAGES = {"gs": "gcsfs", "gcs": "gcsfs"}  # s3:// is read by the runtime's own client


@dataclass
class Source:
    """The rows of one dataset (a list, or an iterator when streaming) and what identifies them."""

    rows: Iterable[dict[str, Any]]
    files: list[Path] = field(default_factory=list)  # local files whose content fingerprints the rows
    identity: str = ""  # for sources without local files (a cloud path)
    local: bool = True  # media paths resolve against media_dir only for local sources


def open_source(attr: DatasetAttr, dataset_dir: str, streaming: bool = False) -> Source:
    kind = attr.load_from
    if kind == "file":
        files = data_files(
            Path(dataset_dir) / str(attr.file_name), attr.name, f"file_name '{attr.file_name}'"
        )
        rows = iter_rows(files, attr.name) if streaming else read_rows(files, attr.name)
        return Source(rows, files)
    if kind == "hf_hub":
        return _from_folder(attr, _hf_snapshot(attr), streaming, local=False)
    if kind in ("ms_hub", "om_hub"):
        return _from_folder(attr, _other_hub_folder(attr), streaming, local=False)
    if kind == "script":
        return _from_script(attr, dataset_dir, streaming)
    if kind == "cloud_file":
        rows = read_cloud_json(str(attr.cloud_file_name), attr.name)
        return Source(rows, identity=json.dumps(rows, sort_keys=True, default=str), local=False)
    raise DataError(f"dataset '{attr.name}' names no source")


# hubs ------------------------------------------------------------------------------------------


def _prefetch_hint(attr: DatasetAttr) -> str:
    return (
        f"pre-fetch it on a machine with network access (`hf download {attr.hf_hub_url} --repo-type dataset`, "
        "then copy ~/.cache/huggingface/hub here or set HF_HUB_CACHE), or download its files and point "
        "file_name at them"
    )


def _hf_snapshot(attr: DatasetAttr) -> Path:
    """The local hub cache first; else a download through the runtime's fetcher (HF_ENDPOINT, HF_TOKEN)."""
    from huggingface_hub import snapshot_download

    try:
        cache = os.environ.get("HF_HUB_CACHE")  # read now: huggingface_hub reads it once, at import
        return Path(
            snapshot_download(
                str(attr.hf_hub_url), repo_type="dataset", local_files_only=True, cache_dir=cache
            )
        )
    except Exception:
        pass
    from ..storage.errors import StorageError
    from ..storage.fetch import fetch

    try:
        return Path(fetch(f"hf://{attr.hf_hub_url}", fetch_cache(), repo_type="dataset").path)
    except StorageError as err:
        from huggingface_hub import constants

        raise DataError(
            f"dataset '{attr.name}': hf_hub_url '{attr.hf_hub_url}' is not in the local hub cache "
            f"({os.environ.get('HF_HUB_CACHE') or constants.HF_HUB_CACHE}) and this machine could not reach the hub "
            f"({err.reason}: {err}); {_prefetch_hint(attr)}"
        ) from None


def _other_hub_folder(attr: DatasetAttr) -> Path:
    """ModelScope / Modelers datasets from their local caches (their clients need the network)."""
    repo = str(attr.ms_hub_url if attr.load_from == "ms_hub" else attr.om_hub_url)
    home = Path.home() / ".cache"
    if attr.load_from == "ms_hub":
        roots = [os.environ.get("MODELSCOPE_CACHE", ""), str(home / "modelscope" / "hub")]
        hub, key, tool = "ModelScope", "ms_hub_url", f"modelscope download --dataset {repo} --local_dir DIR"
    else:
        roots = [os.environ.get("OPENMIND_CACHE", ""), str(home / "openmind" / "hub")]
        hub, key, tool = (
            "Modelers",
            "om_hub_url",
            f"openmind-cli pull {repo} --repo_type dataset --local_dir DIR",
        )
    candidates = [Path(root) / "datasets" / repo for root in roots if root]
    for folder in candidates:
        if folder.is_dir():
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"dataset '{attr.name}': {key} '{repo}' is not in the local {hub} cache (looked in {looked}) and this "
        f"machine could not reach {hub}; pre-fetch it on a machine with network access (`{tool}`), copy DIR "
        "here and point file_name at it"
    )


def _from_folder(attr: DatasetAttr, folder: Path, streaming: bool, local: bool) -> Source:
    """Load a folder (hub snapshot or local) with `datasets`, which reads its configs and splits."""
    import datasets

    try:
        loaded = datasets.load_dataset(
            str(folder),
            name=attr.subset,
            data_dir=attr.folder,
            split=attr.split,
            streaming=streaming,
            cache_dir=os.environ.get("HF_DATASETS_CACHE"),
        )
    except Exception as err:
        raise DataError(
            f"dataset '{attr.name}': cannot load {folder} (subset {attr.subset!r}, folder {attr.folder!r}, "
            f"split {attr.split!r}): {err}"
        ) from None
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if not streaming else []
    rows: Iterable[dict[str, Any]] = loaded if streaming else loaded.to_list()
    return Source(rows, files, local=local)


def _from_script(attr: DatasetAttr, dataset_dir: str, streaming: bool) -> Source:
    path = Path(dataset_dir) / str(attr.script_url)
    if path.suffix == ".py" or (path.is_dir() and any(path.glob("*.py"))):
        raise DataError(
            f"dataset '{attr.name}': script_url '{attr.script_url}' is a loading script; datasets 4 and later "
            "no longer run loading scripts. Convert the data to json/jsonl/csv/parquet files and use file_name"
        )
    if not path.is_dir():
        raise DataError(f"dataset '{attr.name}': script_url folder not found: {path}")
    return _from_folder(attr, path, streaming, local=True)


# cloud -----------------------------------------------------------------------------------------


def fetch_cache() -> Path:
    """Where fetched datasets are cached: $KUBEFACTORY_FETCH_CACHE, else the user's cache, else /tmp."""
    import tempfile

    chosen = os.environ.get("KUBEFACTORY_FETCH_CACHE")
    if chosen:
        return Path(chosen)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubefactory" / "fetch"
    try:
        base.mkdir(parents=True, exist_ok=True)
        return base
    except OSError:  # a pod's read-only home
        return Path(tempfile.gettempdir()) / "kubefactory-fetch"


def _read_s3_json(path: str, dataset_name: str) -> list[dict[str, Any]]:
    """s3:// through the runtime's own S3 client (AWS_* variables; path-style, any S3-compatible store)."""
    from ..storage.errors import StorageError
    from ..storage.fetch import fetch

    try:
        fetched = fetch(path, fetch_cache())
    except StorageError as err:
        raise DataError(f"dataset '{dataset_name}': cannot read cloud_file_name '{path}': {err}") from None
    root = Path(fetched.path)
    files = [
        p for p in sorted(root.rglob("*")) if p.suffix in (".json", ".jsonl") and not p.name.startswith(".")
    ]
    if not files:
        raise DataError(f"dataset '{dataset_name}': no .json or .jsonl files at cloud_file_name '{path}'")
    rows: list[dict[str, Any]] = []
    for file in files:
        where = path if fetched.files == 1 else f"{path.rstrip('/')}/{file.relative_to(root)}"
        rows += list(_json_rows(file.read_text(encoding="utf-8"), where, "s3", dataset_name))
    return rows


def read_cloud_json(path: str, dataset_name: str) -> list[dict[str, Any]]:
    """JSON / JSON lines files at an s3:// or gs:// path (a file or a folder of them)."""
    if path.startswith("s3://"):
        return _read_s3_json(path, dataset_name)
    import fsspec

    protocol = path.split("://", 1)[0] if "://" in path else ""
    if not protocol:
        raise DataError(
            f"dataset '{dataset_name}': cloud_file_name '{path}' needs a protocol, e.g. s3:// or gs://"
        )
    try:
        fs = fsspec.filesystem(protocol)
    except (ImportError, ValueError) as err:
        package = CLOUD_PACKAGES.get(protocol)
        hint = f"install {package} (pip install {package})" if package else "use s3:// or gs://"
        raise DataError(
            f"dataset '{dataset_name}': cannot open cloud_file_name '{path}': {err}; {hint}"
        ) from None
    try:
        files = sorted(fs.find(path)) if fs.isdir(path) else [path]
    except Exception as err:
        raise DataError(f"dataset '{dataset_name}': cannot reach cloud_file_name '{path}': {err}") from None
    files = [file for file in files if str(file).endswith((".json", ".jsonl"))]
    if not files:
        raise DataError(f"dataset '{dataset_name}': no .json or .jsonl files at cloud_file_name '{path}'")
    rows: list[dict[str, Any]] = []
    for file in files:
        rows += list(_cloud_rows(fs, str(file), protocol, dataset_name))
    return rows


def _cloud_rows(fs: Any, file: str, protocol: str, dataset_name: str) -> Iterator[dict[str, Any]]:
    with fs.open(file, "r") as handle:
        text = handle.read()
    yield from _json_rows(text, file, protocol, dataset_name)


def _json_rows(text: str, file: str, protocol: str, dataset_name: str) -> Iterator[dict[str, Any]]:
    try:
        if file.endswith(".jsonl"):
            yield from (json.loads(line) for line in text.splitlines() if line.strip())
        else:
            yield from json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"dataset '{dataset_name}': {protocol}://{file.split('://')[-1]} is not valid JSON: {err}"
        ) from None
