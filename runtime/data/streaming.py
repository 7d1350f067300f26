"""Streaming: rows are read, converted and tokenized while training consumes them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .dataset_info import resolve_datasets
from .example import Example
from .loader import stream_dataset
from .mixing import probabilities_of
from .module import DatasetModule
from .options import check_data_config, load_options, process_options
from .processors import kind_for, make_processor
from .processors.encoder import PieceEncoder
from .runner import stream_batches

if TYPE_CHECKING:
    from datasets import IterableDataset
    from transformers import PreTrainedTokenizerBase

    from ..config import TrainConfig
    from .templates import Template


def _chain_or_interleave(
    config: TrainConfig, streams: list[Iterator[Example | None]]
) -> Iterator[Example | None]:
    if len(streams) == 1 or config.mix_strategy == "concat":
        for stream in streams:
            yield from stream
        return
    import numpy as np

    probabilities = probabilities_of(config.interleave_probs)
    rng = np.random.default_rng(config.seed)
    live = list(range(len(streams)))
    while live:
        source = int(rng.choice(live, p=_renormalized(probabilities, live))) if probabilities else live[0]
        try:
            yield next(streams[source])
        except StopIteration:
            if config.mix_strategy == "interleave_under":
                return
            live.remove(source)
            continue
        if not probabilities:
            live.append(live.pop(0))  # round robin


def _renormalized(probabilities: list[float], live: list[int]) -> list[float]:
    total = sum(probabilities[i] for i in live)
    return [probabilities[i] / total for i in live]


def _shuffled(entries: Iterable[Example | None], buffer_size: int, seed: int) -> Iterator[Example | None]:
    import random

    rng = random.Random(seed)
    buffer: list[Example | None] = []
    for entry in entries:
        if len(buffer) < buffer_size:
            buffer.append(entry)
            continue
        index = rng.randrange(buffer_size)
        yield buffer[index]
        buffer[index] = entry
    rng.shuffle(buffer)
    yield from buffer


def streamed_module(
    config: TrainConfig, tokenizer: PreTrainedTokenizerBase, template: Template
) -> DatasetModule:
    """Rows are read, converted and tokenized while training consumes them."""
    from datasets import IterableDataset

    check_data_config(config)
    kind = kind_for(config.stage)
    options = process_options(config, tokenizer)
    held_out = int(config.val_size) if config.val_size else 0

    def examples(names: list[str]) -> Iterator[Example | None]:
        attrs = resolve_datasets(names, config.dataset_dir)
        streams = [stream_dataset(attr, load_options(config, kind), config.stage) for attr in attrs]
        return _shuffled(_chain_or_interleave(config, streams), config.buffer_size, config.seed)

    def rows(names: str, part: str, generating: bool) -> Iterator[dict[str, Any]]:
        processor = make_processor(
            kind_for(config.stage, generating), template.bind(tokenizer), PieceEncoder(tokenizer), options
        )
        stream = examples(names.split(","))
        if part == "head":
            stream = (entry for _, entry in zip(range(held_out), stream))
        elif part == "tail":
            stream = (entry for index, entry in enumerate(stream) if index >= held_out)
        yield from stream_batches(processor, stream, config.preprocessing_batch_size)

    def dataset(names: list[str], part: str, generating: bool = False) -> IterableDataset:
        # a string, not a list: datasets would shard a list argument into one stream per item
        kwargs = {"names": ",".join(names), "part": part, "generating": generating}
        return IterableDataset.from_generator(rows, gen_kwargs=kwargs)

    train = dataset(config.dataset_names, "tail" if held_out else "all") if config.dataset_names else None
    gen = config.predict_with_generate
    evals = dataset(config.dataset_names, "head", gen) if held_out else None
    if config.eval_dataset_names:
        evals = dataset(config.eval_dataset_names, "all", gen)
    return DatasetModule(train, evals, "streaming")
