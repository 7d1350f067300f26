"""Several datasets → one list (concat or interleave), and a validation split.

The orders are those of `datasets.concatenate_datasets`, `interleave_datasets` and
`Dataset.train_test_split`, which LLaMA-Factory uses, written as pure functions over lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil
from typing import Any, TypeVar

from .errors import DataError

T = TypeVar("T")

STOPPING = {
    "interleave_under": "first_exhausted",
    "interleave_over": "all_exhausted",
    "interleave_once": "all_exhausted_without_replacement",
}


def interleave_indices(
    lengths: Sequence[int], probabilities: Sequence[float] | None, seed: int, stopping: str
) -> list[tuple[int, int]]:
    """(source, row) pairs in interleaved order."""
    n = len(lengths)
    if probabilities is None:
        if stopping == "first_exhausted":
            return [(s, i) for i in range(min(lengths)) for s in range(n)]
        if stopping == "all_exhausted":
            # every source cycles until the longest is used up
            return [(s, i % lengths[s]) for i in range(max(lengths)) for s in range(n)]
        return [(s, i) for i in range(max(lengths)) for s in range(n) if i < lengths[s]]
    return _random_interleave(lengths, probabilities, seed, stopping)


def _random_interleave(
    lengths: Sequence[int], probabilities: Sequence[float], seed: int, stopping: str
) -> list[tuple[int, int]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    n = len(lengths)
    position = [0] * n
    exhausted = [False] * n
    drawable = [p > 0 for p in probabilities]
    out: list[tuple[int, int]] = []

    def done() -> bool:
        if stopping == "first_exhausted":
            return any(exhausted)
        return all(e or not d for e, d in zip(exhausted, drawable))

    while True:
        for source in rng.choice(n, size=1000, p=list(probabilities)):
            source = int(source)
            if done():
                return out
            if stopping == "all_exhausted_without_replacement" and exhausted[source]:
                continue
            out.append((source, position[source]))
            position[source] += 1
            if position[source] >= lengths[source]:
                exhausted[source] = True
                position[source] = 0


def merge(
    datasets: Sequence[list[T]], strategy: str, probabilities: Sequence[float] | None, seed: int
) -> list[T]:
    if len(datasets) == 1:
        return list(datasets[0])
    if strategy == "concat":
        return [item for dataset in datasets for item in dataset]
    if strategy not in STOPPING:
        raise DataError(f"mix_strategy: '{strategy}' is unknown; use concat, {', '.join(STOPPING)}")
    if probabilities is not None and abs(sum(probabilities) - 1.0) > 1e-6:
        raise DataError(f"interleave_probs: {list(probabilities)} must add up to 1")
    lengths = [len(dataset) for dataset in datasets]
    order = interleave_indices(lengths, probabilities, seed, STOPPING[strategy])
    return [datasets[source][row] for source, row in order]


def split_sizes(total: int, val_size: float) -> tuple[int, int]:
    """(train, validation) counts: a fraction below 1 (rounded up for validation), or a count."""
    test = ceil(val_size * total) if val_size < 1 else int(val_size)
    if test >= total:
        raise DataError(f"val_size: {val_size} leaves no training rows out of {total}; use a smaller value")
    return total - test, test


def split_validation(entries: list[T], val_size: float, seed: int) -> tuple[list[T], list[T]]:
    """A seeded random permutation: validation rows first, the rest for training, both shuffled."""
    import numpy as np

    n_train, n_test = split_sizes(len(entries), val_size)
    permutation = np.random.default_rng(seed).permutation(len(entries))
    test = [entries[int(i)] for i in permutation[:n_test]]
    train = [entries[int(i)] for i in permutation[n_test : n_test + n_train]]
    return train, test


def probabilities_of(value: Any) -> list[float] | None:
    if value is None or value == "":
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    try:
        return [float(item) for item in items]
    except ValueError:
        raise DataError(
            f"interleave_probs: {value!r} must be numbers separated by commas, e.g. 0.7,0.3"
        ) from None
