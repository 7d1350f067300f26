"""One dataset → examples: read, sample, convert, check; every skipped row keeps its reason.

Skipped rows stay in the list as None. LLaMA-Factory keeps broken rows until tokenization, so they
count in its batches (packing, pt blocks and KTO pairs are built per batch) and in its validation
split; keeping their places gives the same rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .converters import converter_for
from .dataset_info import DatasetAttr
from .errors import DataError, RowError
from .example import Example, SkippedRow
from .media import MediaResolver, check_placeholders
from .processors import problem_for
from .sources import open_source

log = logging.getLogger(__name__)

# kinds whose datasets must be ranking datasets (and the others must not)
RANKING_KINDS = ("pairwise",)


@dataclass(frozen=True)
class LoadOptions:
    dataset_dir: str
    kind: str  # processor kind: pretrain, supervised, pairwise, feedback, unsupervised
    media_dir: str | None = None
    max_samples: int | None = None
    streaming: bool = False
    strict: bool = False


@dataclass
class LoadedDataset:
    name: str
    formatting: str
    entries: list[Example | None]
    skipped: list[SkippedRow] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return len(self.entries) - len(self.skipped)

    def reasons(self, top: int = 3) -> str:
        counts = Counter(s.reason for s in self.skipped).most_common(top)
        return "; ".join(f"{count}× {reason}" for reason, count in counts)


class RowChecker:
    """Converts and checks rows of one dataset; the same rules for loaded and streamed data."""

    def __init__(self, attr: DatasetAttr, options: LoadOptions, local: bool) -> None:
        self.attr = attr
        self.options = options
        self.convert = converter_for(attr)
        self.media = MediaResolver(options.media_dir or options.dataset_dir) if local else None
        self.skipped: list[SkippedRow] = []

    def __call__(self, number: int, row: dict[str, Any]) -> Example | None:
        try:
            example = self.convert(row, self.attr)
            problem = problem_for(self.options.kind, example)
            if problem:
                raise RowError(problem)
            check_placeholders(example, self.attr)
        except RowError as err:
            skipped = SkippedRow(self.attr.name, number, str(err))
            if self.options.strict:
                raise DataError(
                    f"{skipped} (strict: true stops at the first row that cannot be used)"
                ) from None
            self.skipped.append(skipped)
            return None
        if self.media is not None:
            self.media.resolve(example)
        return example


def check_ranking(attr: DatasetAttr, kind: str, stage: str) -> None:
    if attr.ranking and kind not in RANKING_KINDS:
        raise DataError(
            f"dataset '{attr.name}' is a ranking dataset (ranking: true, chosen/rejected answers): it fits stages "
            f"rm and dpo, not stage {stage}"
        )
    if not attr.ranking and kind in RANKING_KINDS:
        raise DataError(
            f"dataset '{attr.name}' is not a ranking dataset: stage {stage} needs pairs of answers; set "
            "ranking: true and chosen/rejected columns in dataset_info.json"
        )


def _sample(
    rows: list[dict[str, Any]], num_samples: int | None, rng: Any
) -> tuple[list[dict[str, Any]], list[int]]:
    """num_samples rows drawn at random: a permutation of all rows, then draws with replacement
    when more are asked for than there are (LLaMA-Factory's method, with the seeded generator)."""
    numbers = list(range(len(rows)))
    if num_samples is None:
        return rows, numbers
    picked = [int(i) for i in rng.permutation(len(rows))[:num_samples]]
    if num_samples > len(picked) and rows:
        picked += [int(i) for i in rng.choice(len(rows), num_samples - len(picked))]
    return [rows[i] for i in picked], picked


def load_dataset(attr: DatasetAttr, options: LoadOptions, rng: Any, stage: str) -> LoadedDataset:
    """All rows of one dataset as examples (None where a row was skipped)."""
    check_ranking(attr, options.kind, stage)
    source = open_source(attr, options.dataset_dir)
    rows = list(source.rows)
    rows, numbers = _sample(rows, attr.num_samples, rng)
    if options.max_samples is not None:
        rows, numbers = rows[: options.max_samples], numbers[: options.max_samples]
    checker = RowChecker(attr, options, source.local)
    entries = [checker(number, row) for number, row in zip(numbers, rows)]
    loaded = LoadedDataset(attr.name, attr.formatting, entries, checker.skipped)
    _report(loaded, checker)
    return loaded


def stream_dataset(attr: DatasetAttr, options: LoadOptions, stage: str) -> Iterator[Example | None]:
    """Rows converted one at a time (streaming); the summary is logged when the stream ends."""
    check_ranking(attr, options.kind, stage)
    source = open_source(attr, options.dataset_dir, streaming=True)
    checker = RowChecker(attr, options, source.local)
    count = 0
    for number, row in enumerate(_as_rows(source.rows)):
        count += 1
        yield checker(number, row)
    _report(LoadedDataset(attr.name, attr.formatting, [None] * count, checker.skipped), checker)


def _as_rows(rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield dict(row)


def _report(loaded: LoadedDataset, checker: RowChecker) -> None:
    total = len(loaded.entries)
    if loaded.skipped:
        log.warning(
            "dataset '%s' (%s): kept %d of %d rows, skipped %d: %s",
            loaded.name, loaded.formatting, loaded.kept, total, len(loaded.skipped), loaded.reasons(),
        )  # fmt: skip
        for skipped in loaded.skipped[:10]:
            log.info("skipped %s", skipped)
    else:
        log.info("dataset '%s' (%s): kept all %d rows", loaded.name, loaded.formatting, total)
    if checker.media is not None and checker.media.missing:
        missing = checker.media.missing
        log.warning(
            "dataset '%s': %d media paths not found under media_dir %s (kept as written), e.g. %s",
            loaded.name, len(missing), checker.media.media_dir, missing[0],
        )  # fmt: skip
    if loaded.kept == 0:
        raise DataError(no_valid_message(loaded, total))


def no_valid_message(loaded: LoadedDataset, total: int) -> str:
    if total == 0:
        return f"dataset '{loaded.name}' (read as {loaded.formatting}) has no rows"
    first = loaded.skipped[0]
    return (
        f"dataset '{loaded.name}' (read as {loaded.formatting}): no valid samples among {total} rows. "
        f"Most common reasons: {loaded.reasons()}. First: row {first.row}: {first.reason}"
    )
