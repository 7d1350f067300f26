"""`kubefactory preprocess CONFIG.yaml [key=value ...]`: tokenize once, train many times.

Tokenizes exactly as `train` would, fills the cache and writes `tokenized_path` (LLaMA-Factory's
layout), then prints what was kept and skipped. A rerun with the same inputs is answered from
the cache without loading transformers or datasets.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..commands import add_config_command

if TYPE_CHECKING:
    from ..config import TrainConfig

SUMMARY = "tokenize a config's datasets as train would, into the cache and tokenized_path"
EPILOG = (
    "examples:\n"
    "  kubefactory preprocess examples/train_lora/qwen_lora_sft.yaml tokenized_path=data/tokenized\n"
    "  kubefactory preprocess my.yaml overwrite_cache=true\n\n"
    "The result is cached by a fingerprint of the data files, the dataset descriptions, the template,\n"
    "the tokenizer and the processing options ($KUBEFACTORY_CACHE/tokenized). With tokenized_path set,\n"
    "train loads that folder instead of tokenizing."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_config_command(subparsers, "preprocess", SUMMARY, epilog=EPILOG, config_optional=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config

    start = time.perf_counter()
    config = load_config(args.config, args.overrides)
    from .store import has_tokenized_data

    if has_tokenized_data(config.tokenized_path):
        print(f"tokenized_path {config.tokenized_path} already holds a tokenized dataset: train will load it")
        return 0
    manifest = _from_cache(config)
    source = "cache"
    if manifest is None:
        manifest, source = _tokenize(config)
    _print_summary(config, manifest, source, time.perf_counter() - start)
    return 0


def _from_cache(config: TrainConfig) -> dict[str, Any] | None:
    """The cached result's manifest (copied to tokenized_path when set), without heavy imports."""
    if config.overwrite_cache or config.streaming:
        return None
    from .cache import cached_folder, fingerprint, is_complete
    from .pipeline import _all_attrs, check_data_config
    from .store import copy_tokenized, read_manifest

    check_data_config(config)
    key = fingerprint(config, _all_attrs(config))
    if key is None or not is_complete(cached_folder(key)):
        return None
    if config.tokenized_path:
        copy_tokenized(cached_folder(key), config.tokenized_path)
    return read_manifest(cached_folder(key))


def _tokenize(config: TrainConfig) -> tuple[dict[str, Any], str]:
    from ..model.loader import load_tokenizer  # the tokenizer exactly as train loads it
    from .errors import DataError
    from .pipeline import tokenize_cached
    from .templates import resolve_template

    if config.streaming:
        raise DataError("streaming: preprocess writes the whole tokenized dataset; turn streaming off")
    tokenizer = load_tokenizer(config)
    template = resolve_template(config, tokenizer)
    _, manifest, source = tokenize_cached(config, tokenizer, template)
    return manifest, source


def _print_summary(config: TrainConfig, manifest: dict[str, Any], source: str, seconds: float) -> None:
    for item in manifest.get("datasets", []):
        line = f"dataset {item['dataset']} ({item['format']}): kept {item['kept']} of {item['rows']} rows"
        if item.get("skipped"):
            line += f", skipped {item['skipped']}: {item['reasons']}"
        print(line)
    for name, split in manifest.get("splits", {}).items():
        print(f"split {name}: {split['rows']} rows, {split['tokens']} tokens")
    where = f" → {config.tokenized_path}" if config.tokenized_path else ""
    origin = "from the cache" if source == "cache" else "tokenized"
    key = manifest.get("fingerprint")
    cache = f" (cache {Path(key).name})" if key else " (not cacheable: non-local data or tokenizer)"
    print(f"{origin} in {seconds:.2f}s{cache}{where}")
