"""Batches and worker shards follow datasets.map(batched=True, num_proc=N)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from kubefactory.runtime.data.runner import run_processor, shard_bounds, stream_batches


@pytest.mark.parametrize(("total", "shards"), [(10, 3), (7, 7), (3, 5), (100, 4), (0, 2)])
def test_shards_match_datasets(total: int, shards: int) -> None:
    import datasets

    data = datasets.Dataset.from_dict({"i": list(range(total))})
    expected = []
    for index in range(max(1, min(shards, total))):
        part = (
            data.shard(num_shards=max(1, min(shards, total)), index=index, contiguous=True)["i"]
            if total
            else []
        )
        expected.append((part[0], part[-1] + 1) if part else (0, 0))
    assert shard_bounds(total, shards) == expected


class BatchRecorder:
    """A processor that writes one row per batch: the batch's items."""

    columns = ("batch",)

    def __call__(self, batch: Sequence[Any]) -> dict[str, list[Any]]:
        return {"batch": [list(batch)]}


def test_batches_restart_in_each_shard() -> None:
    out = run_processor(BatchRecorder(), list(range(10)), batch_size=3, workers=2)
    assert out["batch"] == [[0, 1, 2], [3, 4], [5, 6, 7], [8, 9]]


def test_one_worker_batches_the_whole_list() -> None:
    assert run_processor(BatchRecorder(), list(range(5)), batch_size=2)["batch"] == [[0, 1], [2, 3], [4]]


def test_stream_batches_yield_rows() -> None:
    rows = list(stream_batches(BatchRecorder(), iter(range(5)), batch_size=2))
    assert rows == [{"batch": [0, 1]}, {"batch": [2, 3]}, {"batch": [4]}]
