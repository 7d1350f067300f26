"""Run a processor over examples in batches, in worker processes when asked.

Batches follow `datasets.Dataset.map(batched=True, num_proc=N)`, as LLaMA-Factory calls it: the
rows are cut into N contiguous shards and each shard into batches of `batch_size`. Batch
boundaries matter where rows are built per batch (pt blocks, packing, KTO pairs), so the same
workers and batch size give the same rows.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .example import Example
from .processors.base import Columns, Processor


def shard_bounds(total: int, shards: int) -> list[tuple[int, int]]:
    """Contiguous shards whose sizes differ by at most one, the larger ones first."""
    shards = max(1, min(shards, total)) if total else 1
    size, extra = divmod(total, shards)
    bounds = []
    start = 0
    for index in range(shards):
        end = start + size + (1 if index < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def _extend(into: Columns, part: Columns) -> None:
    for name, values in part.items():
        into.setdefault(name, []).extend(values)


def run_batches(processor: Processor, entries: Sequence[Example | None], batch_size: int) -> Columns:
    columns: Columns = {name: [] for name in processor.columns}
    for start in range(0, len(entries), batch_size):
        _extend(columns, processor(entries[start : start + batch_size]))
    return columns


# Set before the pool forks, read by the workers: the processor (with its tokenizer) and the
# examples reach them through fork's copy-on-write memory, never through pickling.
_JOB: tuple[Processor, Sequence[Example | None], int] | None = None


def _work(bounds: tuple[int, int]) -> Columns:
    assert _JOB is not None
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one thread per worker process
    processor, entries, batch_size = _JOB
    return run_batches(processor, entries[bounds[0] : bounds[1]], batch_size)


def run_processor(
    processor: Processor, entries: Sequence[Example | None], batch_size: int, workers: int | None = None
) -> Columns:
    """All output columns, shard by shard in order."""
    bounds = shard_bounds(len(entries), workers or 1)
    if len(bounds) == 1 or "fork" not in multiprocessing.get_all_start_methods():
        columns: Columns = {name: [] for name in processor.columns}
        for start, end in bounds:
            _extend(columns, run_batches(processor, entries[start:end], batch_size))
        return columns
    global _JOB
    _JOB = (processor, entries, batch_size)
    try:
        with multiprocessing.get_context("fork").Pool(len(bounds)) as pool:
            parts = pool.map(_work, bounds)
    finally:
        _JOB = None
    columns = {name: [] for name in processor.columns}
    for part in parts:
        _extend(columns, part)
    return columns


def stream_batches(
    processor: Processor, entries: Iterable[Example | None], batch_size: int
) -> Iterator[dict[str, Any]]:
    """Rows of a stream, tokenized a batch at a time."""
    batch: list[Example | None] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == batch_size:
            yield from _rows(processor(batch))
            batch = []
    if batch:
        yield from _rows(processor(batch))


def _rows(columns: Columns) -> Iterator[dict[str, Any]]:
    names = list(columns)
    for values in zip(*(columns[name] for name in names)):
        yield dict(zip(names, values))
