"""Loading one dataset: every skipped row keeps its dataset, row number and reason."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kubefactory.runtime.data.dataset_info import resolve_datasets
from kubefactory.runtime.data.errors import DataError
from kubefactory.runtime.data.loader import LoadOptions, load_dataset

GOOD = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
BAD_ROLE = {"conversations": [{"from": "human", "value": "q"}, {"from": "human", "value": "a"}]}
ODD = {"conversations": [{"from": "human", "value": "q"}]}


def load(folder: Path, name: str, kind: str = "supervised", stage: str = "sft", **options: Any) -> Any:
    attr = resolve_datasets([name], folder)[0]
    return load_dataset(
        attr, LoadOptions(dataset_dir=str(folder), kind=kind, **options), np.random.RandomState(0), stage
    )


def test_skipped_rows_keep_their_place_and_reason(add_dataset: Any, caplog: pytest.LogCaptureFixture) -> None:
    folder = add_dataset("chat", [GOOD, BAD_ROLE, GOOD, ODD], {"formatting": "sharegpt"})
    with caplog.at_level(logging.WARNING):
        loaded = load(folder, "chat")
    assert [entry is not None for entry in loaded.entries] == [True, False, True, False]
    assert [(s.dataset, s.row) for s in loaded.skipped] == [("chat", 1), ("chat", 3)]
    assert (
        str(loaded.skipped[0])
        == "dataset 'chat' row 1: message 2 has role 'human' where 'gpt' or 'function_call' is expected"
    )
    assert "dataset 'chat' (sharegpt): kept 2 of 4 rows, skipped 2: 1× message 2 has role" in caplog.text


def test_no_valid_rows_names_dataset_format_and_top_reasons(add_dataset: Any) -> None:
    folder = add_dataset("chat", [BAD_ROLE, BAD_ROLE, ODD], {"formatting": "sharegpt"})
    with pytest.raises(DataError) as err:
        load(folder, "chat")
    assert str(err.value) == (
        "dataset 'chat' (read as sharegpt): no valid samples among 3 rows. Most common reasons: "
        "2× message 2 has role 'human' where 'gpt' or 'function_call' is expected; "
        "1× 1 messages: a conversation needs an even number (prompt and answer turns); the last message is the "
        "answer that is learned. First: row 0: message 2 has role 'human' where 'gpt' or 'function_call' is expected"
    )


def test_an_empty_dataset_is_an_error(add_dataset: Any) -> None:
    with pytest.raises(DataError, match="dataset 'none' \\(read as alpaca\\) has no rows"):
        load(add_dataset("none", []), "none")


def test_strict_stops_at_the_first_bad_row(add_dataset: Any) -> None:
    folder = add_dataset("chat", [GOOD, BAD_ROLE], {"formatting": "sharegpt"})
    with pytest.raises(
        DataError,
        match="dataset 'chat' row 1: message 2 has role 'human'.*\\(strict: true stops at the first row",
    ):
        load(folder, "chat", strict=True)


def test_alpaca_without_input_column_is_fine(add_dataset: Any) -> None:
    loaded = load(add_dataset("a", [{"instruction": "q", "output": "a"}]), "a")
    assert loaded.entries[0] is not None and loaded.entries[0].prompt[0].content == "q"


@pytest.mark.parametrize(
    ("kind", "stage", "rows", "reason"),
    [
        (
            "supervised",
            "sft",
            [{"instruction": "q"}],
            "sft needs exactly one answer to learn, this row has none",
        ),
        (
            "feedback",
            "kto",
            [{"instruction": "q", "output": "a"}],
            "kto \\(a kto_tag column holding true or false\\) needs two answers",
        ),
    ],
)
def test_stage_requirements_are_reasons(
    add_dataset: Any, kind: str, stage: str, rows: list[Any], reason: str
) -> None:
    with pytest.raises(DataError, match=reason):
        load(add_dataset("a", rows), "a", kind=kind, stage=stage)


def test_ranking_datasets_fit_only_pairwise_stages(add_dataset: Any) -> None:
    folder = add_dataset("pref", [{"instruction": "q", "chosen": "y", "rejected": "n"}],
                         {"ranking": True, "columns": {"chosen": "chosen", "rejected": "rejected"}})  # fmt: skip
    with pytest.raises(
        DataError, match="dataset 'pref' is a ranking dataset .* it fits stages rm and dpo, not stage sft"
    ):
        load(folder, "pref")
    add_dataset("plain", [{"instruction": "q", "output": "a"}])
    with pytest.raises(
        DataError, match="dataset 'plain' is not a ranking dataset: stage dpo needs pairs of answers"
    ):
        load(folder, "plain", kind="pairwise", stage="dpo")
    assert load(folder, "pref", kind="pairwise", stage="dpo").kept == 1


def test_num_samples_permutes_then_oversamples_and_max_samples_truncates(add_dataset: Any) -> None:
    rows = [{"instruction": f"q{i}", "output": "a"} for i in range(5)]
    folder = add_dataset("a", rows, {"num_samples": 7})
    loaded = load(folder, "a")
    order = np.random.RandomState(0).permutation(5).tolist()
    extra = np.random.RandomState(0)
    extra.permutation(5)
    order += extra.choice(5, 2).tolist()
    assert [e.prompt[0].content for e in loaded.entries] == [f"q{i}" for i in order]
    assert len(load(add_dataset("b", rows), "b", max_samples=2).entries) == 2


def test_media_paths_resolve_against_media_dir(add_dataset: Any, tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "1.jpg").write_bytes(b"x")
    row = {
        "messages": [{"role": "user", "content": "<image>q"}, {"role": "assistant", "content": "a"}],
        "images": ["1.jpg"],
    }
    folder = add_dataset("mm", [row], {"formatting": "sharegpt", "columns": {"messages": "messages", "images": "images"},
                                       "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                                "assistant_tag": "assistant"}})  # fmt: skip
    loaded = load(folder, "mm", media_dir=str(media))
    assert loaded.entries[0].images == [str(media / "1.jpg")]
