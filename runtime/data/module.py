"""What a trainer takes from the data layer: the train dataset and the eval dataset(s)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict, IterableDataset


@dataclass
class DatasetModule:
    """What a trainer takes: the train dataset and the eval dataset(s)."""

    train_dataset: Dataset | IterableDataset | None
    eval_dataset: Dataset | IterableDataset | dict[str, Dataset] | None
    source: str = ""  # tokenized_path, cache or tokenized


def module_of(data: DatasetDict, source: str) -> DatasetModule:
    train = data.get("train")
    if "validation" in data:
        return DatasetModule(train, data["validation"], source)
    evals = {key.removeprefix("validation_"): data[key] for key in data if key.startswith("validation_")}
    return DatasetModule(train, evals or None, source)
