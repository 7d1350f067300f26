"""Tokenized datasets for a run, with one process per node (or per job) doing the tokenizing.

Under torchrun the local rank 0 of each node (global rank 0 with data_shared_file_system)
tokenizes and fills the tokenized-data cache; the other ranks wait for that cache folder to be
complete and load it. They wait by watching the file system, before any process group exists, so
no rank sits in a collective (and its timeout) while another preprocesses — the usual cause of
multi-node NCCL timeouts at start-up.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..launch.torchrun import RankInfo

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..config import TrainConfig
    from ..data.pipeline import DatasetModule
    from ..data.templates import Template

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
REPORT_SECONDS = 60.0


def tokenizes_here(rank: RankInfo, shared_file_system: bool) -> bool:
    """The process that tokenizes: the job's first, or each node's first when nodes do not share files."""
    if not rank.distributed:
        return True
    return rank.is_main if shared_file_system else rank.is_local_main


def load_datasets(
    config: TrainConfig, tokenizer: PreTrainedTokenizerBase, template: Template | None = None
) -> DatasetModule:
    from ..data.pipeline import prepare_datasets
    from ..data.store import has_tokenized_data

    rank = RankInfo.from_env(os.environ)
    if tokenizes_here(rank, config.data_shared_file_system) or has_tokenized_data(config.tokenized_path):
        return prepare_datasets(config, tokenizer, template)
    folder = _cache_folder(config, tokenizer)
    if folder is not None:
        wait_for(folder, rank)
    # The first process writes tokenized_path and may refresh the cache; the others only read.
    reader = config.model_copy(update={"tokenized_path": None, "overwrite_cache": False})
    return prepare_datasets(reader, tokenizer, template)


def _cache_folder(config: TrainConfig, tokenizer: PreTrainedTokenizerBase) -> Path | None:
    from ..data.cache import cached_folder, fingerprint
    from ..data.dataset_info import resolve_datasets

    if config.streaming:
        return None
    names = config.dataset_names + config.eval_dataset_names
    key = fingerprint(config, resolve_datasets(names, config.dataset_dir) if names else [], tokenizer)
    if key is None:
        log.info(
            "rank %d: these datasets cannot be cached; tokenizing them here too",
            RankInfo.from_env(os.environ).rank,
        )
        return None
    return cached_folder(key)


def wait_for(folder: Path, rank: RankInfo, poll: float = POLL_SECONDS) -> None:
    """Block until the tokenizing process has completed the cache folder (torchrun stops the
    whole job if that process fails, so there is no time limit here)."""
    from ..data.cache import is_complete

    started = last_report = time.monotonic()
    while not is_complete(folder):
        now = time.monotonic()
        if now - last_report >= REPORT_SECONDS:
            log.info(
                "rank %d: waiting %.0fs for the tokenized datasets in %s", rank.rank, now - started, folder
            )
            last_report = now
        time.sleep(poll)
