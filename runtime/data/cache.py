"""A content-addressed cache of tokenized datasets.

The key is a hash of everything the tokens depend on: the data files' content, the dataset
descriptions, the template, the tokenizer's files and the processing options. The same inputs
find the same folder; any change finds another. It is computed without loading the tokenizer
when the tokenizer's files are on disk, so a cache hit needs neither transformers nor datasets.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from .dataset_info import DatasetAttr

if TYPE_CHECKING:
    from ..config import TrainConfig

# Bump when the tokenized output of the same inputs changes.
FORMAT_VERSION = "1"
MANIFEST = "kubefactory.json"

TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "vocab.txt", "merges.txt", "tokenizer.model", "spiece.model", "chat_template.jinja",
    "chat_template.json",
)  # fmt: skip
TOKENIZER_KEYS = (
    "use_fast_tokenizer", "split_special_tokens", "add_tokens", "add_special_tokens",
    "new_special_tokens_config", "trust_remote_code", "model_revision",
)  # fmt: skip
PROCESSING_KEYS = (
    "stage", "template", "cutoff_len", "train_on_prompt", "mask_history", "packing", "neat_packing",
    "tool_format", "default_system", "enable_thinking", "preserve_thinking", "max_samples", "val_size",
    "seed", "mix_strategy", "interleave_probs", "preprocessing_batch_size", "preprocessing_num_workers",
    "media_dir", "dataset_dir", "eval_on_each_dataset", "predict_with_generate",
)  # fmt: skip


def cache_root() -> Path:
    base = os.environ.get("KUBEFACTORY_CACHE") or str(Path.home() / ".cache" / "kubefactory")
    return Path(base) / "tokenized"


def file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _FileHashes:
    """Content hashes remembered by (path, size, mtime), so a rerun does not reread large files."""

    def __init__(self, memo: Path) -> None:
        self.memo = memo
        try:
            self.known: dict[str, str] = json.loads(memo.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.known = {}
        self.changed = False

    def __call__(self, path: Path) -> str:
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in self.known:
            self.known[key] = file_digest(path)
            self.changed = True
        return self.known[key]

    def save(self) -> None:
        if self.changed:
            try:
                self.memo.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.memo.with_suffix(f".tmp{os.getpid()}")
                tmp.write_text(json.dumps(self.known), encoding="utf-8")
                tmp.replace(self.memo)
            except OSError:
                pass  # the memo only saves time


def tokenizer_folder(config: TrainConfig) -> Path | None:
    """The local folder holding the tokenizer's files, if there is one (a path or a cached hub id)."""
    name = config.model_name_or_path
    if not name:
        return None
    if Path(name).is_dir():
        return Path(name)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, revision=config.model_revision, local_files_only=True))
    except Exception:
        return None


def tokenizer_fingerprint(
    config: TrainConfig, tokenizer: Any = None, hashes: _FileHashes | None = None
) -> str | None:
    """From the tokenizer's files when they are on disk, else from the loaded tokenizer's state."""
    keys = {key: getattr(config, key, None) for key in TOKENIZER_KEYS}
    folder = tokenizer_folder(config)
    digest = hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode())
    if folder is not None:
        files = [folder / name for name in TOKENIZER_FILES if (folder / name).is_file()]
        if files:
            hash_file = hashes or _FileHashes(cache_root() / "file-hashes.json")
            for file in files:
                digest.update(f"{file.name}:{hash_file(file)}".encode())
            return digest.hexdigest()
    if tokenizer is None:
        return None
    backend = getattr(tokenizer, "backend_tokenizer", None)
    state = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
    digest.update(state.encode())
    digest.update(json.dumps([type(tokenizer).__name__, tokenizer.special_tokens_map], default=str).encode())
    return digest.hexdigest()


def template_fingerprint(config: TrainConfig) -> Any:
    """The built-in template's definition (its overrides are among the processing keys); without
    a template the tokenizer's chat template is used, which the tokenizer fingerprint covers."""
    if not config.template:
        return None
    from .templates import get_template
    from .templates.tools import today

    data = dataclasses.asdict(get_template(config.template))
    data.pop("extra", None)
    if (config.tool_format or data["tool_format"]) == "llama3":
        data["today"] = today()  # Llama 3 tool prompts carry the date
    return data


def dataset_fingerprint(attr: DatasetAttr, dataset_dir: str, hashes: _FileHashes) -> Any:
    """The description plus the content of its files; None when the rows are not local (not cached)."""
    description = attr.model_dump()
    if attr.load_from == "file":
        from .readers import data_files

        files = data_files(
            Path(dataset_dir) / str(attr.file_name), attr.name, f"file_name '{attr.file_name}'"
        )
        return [description, [(file.name, hashes(file)) for file in files]]
    if attr.load_from == "hf_hub":
        from .sources import _hf_snapshot

        folder = _hf_snapshot(attr)  # the snapshot folder's name is the hub revision
        return [description, str(folder.resolve())]
    return None


def fingerprint(
    config: TrainConfig, attrs: list[DatasetAttr], tokenizer: Any = None, extra: Any = None
) -> str | None:
    """The cache key of a config's tokenized datasets, or None when it cannot be cached."""
    hashes = _FileHashes(cache_root() / "file-hashes.json")
    try:
        datasets = [dataset_fingerprint(attr, config.dataset_dir, hashes) for attr in attrs]
        tok = tokenizer_fingerprint(config, tokenizer, hashes)
    finally:
        hashes.save()
    if tok is None or any(part is None for part in datasets):
        return None
    options = {key: getattr(config, key, None) for key in PROCESSING_KEYS}
    packing_explicit = "packing" in config.model_fields_set
    payload = [
        FORMAT_VERSION,
        __version__,
        datasets,
        template_fingerprint(config),
        tok,
        options,
        packing_explicit,
        extra,
    ]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def cached_folder(key: str) -> Path:
    return cache_root() / key


def is_complete(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()
