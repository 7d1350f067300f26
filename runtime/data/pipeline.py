"""From a config to tokenized training rows: resolve, read, convert, validate, encode."""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .converters import RowError, converter_for
from .dataset_info import DatasetAttr, resolve_datasets
from .errors import DataError
from .example import Example, SkippedRow
from .processors.supervised import SupervisedOptions, encode_supervised
from .readers import local_files, read_rows

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..config import TrainConfig
    from .templates import Template

log = logging.getLogger(__name__)


@dataclass
class LoadedExamples:
    examples: list[Example]
    skipped: list[SkippedRow] = field(default_factory=list)

    def skip_summary(self, top: int = 3) -> str:
        reasons = Counter(s.reason for s in self.skipped).most_common(top)
        return "; ".join(f"{count}× {reason}" for reason, count in reasons)


def load_examples(attr: DatasetAttr, dataset_dir: str, stage: str, max_samples: int | None, seed: int) -> LoadedExamples:
    """Read one dataset and convert every row, keeping the reason of each row that is skipped."""
    if attr.source != "file_name":
        raise DataError(f"dataset '{attr.name}': source {attr.source} is not supported yet; use file_name")
    rows = read_rows(local_files(attr, dataset_dir), attr.name)
    rows = _subsample(rows, attr.num_samples, seed)
    if max_samples is not None:
        rows = rows[:max_samples]
    convert = converter_for(attr)
    loaded = LoadedExamples([])
    for number, row in enumerate(rows):
        try:
            example = convert(row, attr)
            _check_example(example, stage, attr)
        except (RowError, ValueError) as err:
            loaded.skipped.append(SkippedRow(attr.name, number, str(err)))
            continue
        loaded.examples.append(example)
    if loaded.skipped:
        log.warning("dataset '%s': skipped %d of %d rows: %s", attr.name, len(loaded.skipped), len(rows),
                    loaded.skip_summary())
    if not loaded.examples:
        first = loaded.skipped[0] if loaded.skipped else f"dataset '{attr.name}' has no rows"
        raise DataError(f"dataset '{attr.name}': no valid examples among {len(rows)} rows; first problem: {first}")
    return loaded


def _subsample(rows: list[dict[str, Any]], num_samples: int | None, seed: int) -> list[dict[str, Any]]:
    if num_samples is None:
        return rows
    rng = random.Random(seed)
    if num_samples <= len(rows):
        return [rows[i] for i in sorted(rng.sample(range(len(rows)), num_samples))]
    extra = [rows[rng.randrange(len(rows))] for _ in range(num_samples - len(rows))]
    return rows + extra


def _check_example(example: Example, stage: str, attr: DatasetAttr) -> None:
    if len(example.prompt) % 2 != 1:
        raise RowError("the prompt must have an odd number of messages (user turns and assistant answers)")
    if stage == "sft" and len(example.response) != 1:
        column = attr.columns.response
        raise RowError(f"sft needs exactly one response; column '{column}' is missing or not a string")
    if stage == "sft" and not example.prompt[-1].content and not example.response[0].content:
        raise RowError("the instruction and the response are both empty")


def load_all_examples(config: TrainConfig, names: list[str]) -> list[Example]:
    attrs = resolve_datasets(names, config.dataset_dir)
    examples: list[Example] = []
    for attr in attrs:
        examples += load_examples(attr, config.dataset_dir, config.stage, config.max_samples, config.seed).examples
    return examples


def tokenize_supervised(
    examples: list[Example], template: Template, tokenizer: PreTrainedTokenizerBase, config: TrainConfig
) -> list[dict[str, list[int]]]:
    options = SupervisedOptions(config.cutoff_len, config.train_on_prompt, config.mask_history)
    rows = []
    for example in examples:
        input_ids, labels = encode_supervised(example, template, tokenizer, options)
        rows.append({"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels})
    return rows
