"""One process per node (or per job) tokenizes; the others wait on the file system, not in a collective."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from kubefactory.runtime.launch.torchrun import RankInfo
from kubefactory.runtime.train.tokenized import tokenizes_here, wait_for


@pytest.mark.parametrize(
    ("rank", "shared", "expected"),
    [
        (RankInfo(), False, True),  # not distributed
        (RankInfo(0, 0, 16, 8), False, True),
        (RankInfo(3, 3, 16, 8), False, False),
        (RankInfo(8, 0, 16, 8), False, True),  # first process of the second node: its own disk, its own cache
        (RankInfo(8, 0, 16, 8), True, False),  # data_shared_file_system: only the job's first process
        (RankInfo(0, 0, 16, 8), True, True),
    ],
)
def test_who_tokenizes(rank: RankInfo, shared: bool, expected: bool) -> None:
    assert tokenizes_here(rank, shared) is expected


def test_waiting_ends_when_the_cache_folder_is_complete(tmp_path: Path) -> None:
    from kubefactory.runtime.data.cache import MANIFEST

    folder = tmp_path / "cache-key"

    def tokenize() -> None:
        time.sleep(0.3)
        folder.mkdir()
        (folder / MANIFEST).write_text("{}")  # what the data layer writes last

    worker = threading.Thread(target=tokenize)
    started = time.monotonic()
    worker.start()
    wait_for(folder, RankInfo(1, 1, 2, 2), poll=0.05)
    worker.join()
    assert time.monotonic() - started >= 0.3
