"""From a config to tokenized datasets: resolve, read, convert, mix, split, tokenize, cache.

`prepare_datasets` is what a training recipe calls: it loads `tokenized_path` when that exists,
reuses the content-addressed cache when the same inputs were tokenized before, and otherwise
tokenizes (and fills the cache, and writes `tokenized_path` when it is set).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .cache import cached_folder, fingerprint, is_complete
from .dataset_info import DatasetAttr, resolve_datasets
from .errors import DataError
from .example import Example
from .loader import LoadedDataset, load_dataset
from .mixing import merge, probabilities_of, split_validation
from .module import DatasetModule, module_of
from .options import check_data_config, load_options, process_options
from .processors import kind_for, make_processor
from .processors.encoder import PieceEncoder
from .runner import run_processor
from .store import copy_tokenized, has_tokenized_data, load_tokenized, read_manifest, save_splits

if TYPE_CHECKING:
    from datasets import DatasetDict
    from transformers import PreTrainedTokenizerBase

    from ..config import TrainConfig
    from .processors.base import Columns
    from .templates import Template

log = logging.getLogger(__name__)


# --- loading examples ----------------------------------------------------------------------------


def _rng(seed: int) -> Any:
    import numpy as np

    return np.random.RandomState(seed)  # as after transformers.set_seed(seed) in LLaMA-Factory


# --- the whole pipeline -------------------------------------------------------------------------


@dataclass
class Tokenized:
    """Tokenized columns per split (train, validation, validation_<name>) and what happened."""

    splits: dict[str, Columns]
    datasets: list[dict[str, Any]] = field(default_factory=list)  # per dataset: kept, skipped, reasons
    seconds: float = 0.0


def _load_group(
    config: TrainConfig, names: list[str], kind: str, rng: Any, report: list[dict[str, Any]]
) -> list[LoadedDataset]:
    loaded = []
    for attr in resolve_datasets(names, config.dataset_dir):
        data = load_dataset(attr, load_options(config, kind), rng, config.stage)
        report.append(
            {"dataset": data.name, "format": data.formatting, "rows": len(data.entries), "kept": data.kept,
             "skipped": len(data.skipped), "reasons": data.reasons()}
        )  # fmt: skip
        loaded.append(data)
    return loaded


def _merged(config: TrainConfig, loaded: list[LoadedDataset]) -> list[Example | None]:
    return merge(
        [d.entries for d in loaded],
        config.mix_strategy,
        probabilities_of(config.interleave_probs),
        config.seed,
    )


def split_entries(
    config: TrainConfig, tokenizer: Any = None
) -> tuple[dict[str, list[Example | None]], list[dict[str, Any]]]:
    """Examples per split, before tokenization, in LLaMA-Factory's order: load each dataset, mix,
    then hold out the validation split."""
    check_data_config(config)
    kind = kind_for(config.stage)
    rng = _rng(config.seed)
    report: list[dict[str, Any]] = []
    splits: dict[str, list[Example | None]] = {}
    if config.dataset_names:
        train = _merged(config, _load_group(config, config.dataset_names, kind, rng, report))
        if config.val_size > 1e-6:
            splits["train"], splits["validation"] = split_validation(train, config.val_size, config.seed)
        else:
            splits["train"] = train
    if config.eval_dataset_names:
        eval_loaded = _load_group(config, config.eval_dataset_names, kind, rng, report)
        if config.eval_on_each_dataset:
            for data in eval_loaded:
                splits[f"validation_{data.name}"] = data.entries
        else:
            splits["validation"] = _merged(config, eval_loaded)
    return splits, report


def tokenize_splits(config: TrainConfig, tokenizer: PreTrainedTokenizerBase, template: Template) -> Tokenized:
    """Every split tokenized with the stage's processor (eval with generation: prompt only)."""
    start = time.perf_counter()
    entries, report = split_entries(config, tokenizer)
    options = process_options(config, tokenizer)
    bound = template.bind(tokenizer)
    encoder = PieceEncoder(tokenizer)
    splits: dict[str, Columns] = {}
    for name, rows in entries.items():
        generating = name.startswith("validation") and config.predict_with_generate
        processor = make_processor(kind_for(config.stage, generating), bound, encoder, options)
        splits[name] = run_processor(
            processor, rows, config.preprocessing_batch_size, config.preprocessing_num_workers
        )
        if not splits[name]["input_ids" if "input_ids" in splits[name] else "chosen_input_ids"]:
            what = "samples" if config.stage == "pt" else "valid samples"
            raise DataError(
                f"split '{name}' has no {what} after tokenization"
                + (
                    " (pt needs at least cutoff_len tokens per batch when packing)"
                    if config.stage == "pt"
                    else ""
                )
            )
    return Tokenized(splits, report, time.perf_counter() - start)


def manifest_of(config: TrainConfig, tokenized: Tokenized, key: str | None) -> dict[str, Any]:
    splits = {}
    for name, columns in tokenized.splits.items():
        ids = columns.get("input_ids") or columns.get("chosen_input_ids") or []
        splits[name] = {"rows": len(ids), "tokens": sum(len(row) for row in ids)}
    return {
        "fingerprint": key,
        "stage": config.stage,
        "template": config.template,
        "cutoff_len": config.cutoff_len,
        "datasets": tokenized.datasets,
        "splits": splits,
        "seconds": round(tokenized.seconds, 3),
    }


def prepare_datasets(
    config: TrainConfig, tokenizer: PreTrainedTokenizerBase, template: Template | None = None
) -> DatasetModule:
    """The tokenized train and eval datasets of a config.

    1. tokenized_path holds data → load it (other data keys are ignored, as in LLaMA-Factory);
    2. streaming → tokenize lazily while training reads;
    3. the cache holds the same inputs' result → load it (overwrite_cache: true skips this);
    4. otherwise tokenize, fill the cache, and write tokenized_path when it is set.
    """
    from .templates import resolve_template

    if has_tokenized_data(config.tokenized_path):
        log.warning(
            "loading the tokenized dataset from %s; the other data keys are ignored", config.tokenized_path
        )
        module = module_of(load_tokenized(str(config.tokenized_path)), "tokenized_path")
        if config.streaming and module.train_dataset is not None:
            module.train_dataset = module.train_dataset.to_iterable_dataset()  # type: ignore[union-attr]
        return module
    if config.streaming and config.tokenized_path:
        raise DataError("tokenized_path: cannot save a streamed dataset; turn streaming off to write it")
    if template is None:
        template = resolve_template(config, tokenizer)
    if config.streaming:
        from .streaming import streamed_module

        return streamed_module(config, tokenizer, template)
    data, _, source = tokenize_cached(config, tokenizer, template)
    return module_of(data, source)


def tokenize_cached(
    config: TrainConfig, tokenizer: PreTrainedTokenizerBase, template: Template
) -> tuple[DatasetDict, dict[str, Any], str]:
    """(datasets, manifest, "cache" | "tokenized") — from the cache when possible."""
    attrs = _all_attrs(config)
    key = fingerprint(config, attrs, tokenizer)
    folder = cached_folder(key) if key else None
    if folder is not None and is_complete(folder) and not config.overwrite_cache:
        log.info("tokenized datasets found in the cache: %s", folder)
        data = load_tokenized(folder)
        source = "cache"
        manifest = read_manifest(folder) or {}
    else:
        tokenized = tokenize_splits(config, tokenizer, template)
        manifest = manifest_of(config, tokenized, key)
        if folder is not None:
            data = save_splits(tokenized.splits, folder, manifest)
        else:
            from datasets import DatasetDict

            from .store import to_dataset

            data = DatasetDict({name: to_dataset(cols) for name, cols in tokenized.splits.items()})
        source = "tokenized"
    if config.tokenized_path:
        if folder is not None and is_complete(folder):
            copy_tokenized(folder, config.tokenized_path)
        else:
            data.save_to_disk(str(config.tokenized_path))
        log.info(
            "tokenized datasets written to %s (train with tokenized_path: %s)",
            config.tokenized_path,
            config.tokenized_path,
        )
    return data, manifest, source


def _all_attrs(config: TrainConfig) -> list[DatasetAttr]:
    names = config.dataset_names + config.eval_dataset_names
    return resolve_datasets(names, config.dataset_dir) if names else []
