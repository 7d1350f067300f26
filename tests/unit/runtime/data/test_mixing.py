"""Mixing and validation splits give datasets' (and so LLaMA-Factory's) orders."""

from __future__ import annotations

import pytest
from kubefactory.runtime.data.errors import DataError
from kubefactory.runtime.data.mixing import (
    interleave_indices,
    merge,
    probabilities_of,
    split_sizes,
    split_validation,
)

LENGTHS = [3, 5, 4]
STOPS = ["first_exhausted", "all_exhausted", "all_exhausted_without_replacement"]


@pytest.mark.parametrize("probabilities", [None, [0.2, 0.5, 0.3]])
@pytest.mark.parametrize("stopping", STOPS)
def test_interleave_matches_datasets(probabilities: list[float] | None, stopping: str) -> None:
    import datasets

    sources = [datasets.Dataset.from_dict({"s": [k] * n, "i": list(range(n))}) for k, n in enumerate(LENGTHS)]
    mixed = datasets.interleave_datasets(
        sources, probabilities=probabilities, seed=7, stopping_strategy=stopping
    )
    assert interleave_indices(LENGTHS, probabilities, 7, stopping) == list(zip(mixed["s"], mixed["i"]))


def test_merge_concat_and_round_robin() -> None:
    assert merge([[1, 2], [3]], "concat", None, 0) == [1, 2, 3]
    assert merge([[1, 2], [3]], "interleave_under", None, 0) == [1, 3]
    assert merge([[1, 2], [3]], "interleave_over", None, 0) == [1, 3, 2, 3]
    assert merge([[1, 2]], "interleave_over", None, 0) == [1, 2]


def test_merge_errors_name_the_key() -> None:
    with pytest.raises(DataError, match="mix_strategy: 'shuffle' is unknown"):
        merge([[1], [2]], "shuffle", None, 0)
    with pytest.raises(DataError, match="interleave_probs: \\[0.5, 0.6\\] must add up to 1"):
        merge([[1], [2]], "interleave_under", [0.5, 0.6], 0)
    with pytest.raises(DataError, match="interleave_probs: 'a,b' must be numbers separated by commas"):
        probabilities_of("a,b")


def test_validation_split_matches_train_test_split() -> None:
    import datasets

    rows = list(range(23))
    for val_size in (0.1, 5):
        test_size = int(val_size) if val_size > 1 else val_size
        split = datasets.Dataset.from_dict({"x": rows}).train_test_split(test_size=test_size, seed=42)
        train, test = split_validation(rows, val_size, 42)
        assert (train, test) == (split["train"]["x"], split["test"]["x"])


def test_split_sizes_and_errors() -> None:
    assert split_sizes(10, 0.25) == (7, 3)
    assert split_sizes(10, 4) == (6, 4)
    with pytest.raises(DataError, match="val_size: 10 leaves no training rows out of 10"):
        split_sizes(10, 10)
