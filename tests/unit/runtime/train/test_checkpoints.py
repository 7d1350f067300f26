"""Which checkpoints are complete, which one to resume from, which save_total_limit deletes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubefactory.runtime.train.checkpoints import (
    COMPLETE_MARKER,
    checkpoints,
    checkpoints_to_delete,
    latest_complete_checkpoint,
    mark_complete,
    rotate_checkpoints,
)


def _make(root: Path, step: int, complete: bool) -> Path:
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text("{}")
    if complete:
        mark_complete(folder, step, world_size=2)
    return folder


def test_steps_sort_numerically_and_other_folders_are_ignored(tmp_path: Path) -> None:
    for step in (100, 20, 3):
        _make(tmp_path, step, True)
    (tmp_path / "checkpoint-last").mkdir()
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-3", "checkpoint-20", "checkpoint-100"]
    assert checkpoints(tmp_path / "missing") == []


def test_marker_records_the_save(tmp_path: Path) -> None:
    folder = _make(tmp_path, 7, True)
    record = json.loads((folder / COMPLETE_MARKER).read_text())
    assert (record["step"], record["worldSize"]) == (7, 2)
    assert not list(folder.glob(".*tmp*"))  # written through a temporary file, then renamed


def test_latest_complete_skips_a_cut_off_save_and_names_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _make(tmp_path, 10, True)
    _make(tmp_path, 20, False)  # all ranks wrote nothing more: no marker
    assert latest_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    assert "ignoring incomplete checkpoint" in caplog.text and "checkpoint-20" in caplog.text
    caplog.clear()
    latest_complete_checkpoint(tmp_path, warn=False)
    assert caplog.text == ""


def _paths(steps: list[int]) -> list[Path]:
    return [Path(f"checkpoint-{s}") for s in steps]


@pytest.mark.parametrize(
    ("steps", "complete", "limit", "keep", "deleted"),
    [
        ([10, 20, 30], [10, 20, 30], None, [], []),  # no limit
        ([10, 20, 30], [10, 20, 30], 2, [], [10]),
        ([10, 20, 30], [10, 20, 30], 1, [], [10, 20]),
        ([10, 20, 30], [10, 20, 30], 1, [10], [20]),  # the best checkpoint stays
        ([10, 20, 30, 40], [10, 20], 1, [], [10]),  # incomplete 30 and 40 never count, never go
        ([10, 20, 30], [10], 1, [], []),  # the newest complete one stays whatever the limit
        ([10, 20], [], 1, [], []),
    ],
)
def test_what_save_total_limit_deletes(
    steps: list[int], complete: list[int], limit: int | None, keep: list[int], deleted: list[int]
) -> None:
    result = checkpoints_to_delete(_paths(steps), set(_paths(complete)), limit, set(_paths(keep)))
    assert result == _paths(deleted)


def test_rotation_on_disk(tmp_path: Path) -> None:
    for step, complete in ((1, True), (2, True), (3, True), (4, False)):
        _make(tmp_path, step, complete)
    rotate_checkpoints(tmp_path, limit=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-3", "checkpoint-4"]
