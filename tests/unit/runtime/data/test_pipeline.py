"""prepare_datasets: tokenized_path, the cache, validation splits, eval datasets, streaming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.data.errors import DataError
from kubefactory.runtime.data.pipeline import (
    check_data_config,
    prepare_datasets,
    process_options,
    tokenize_splits,
)
from kubefactory.runtime.data.templates import resolve_template

ROWS = [{"instruction": f"Question {i}?", "output": f"Answer {i}."} for i in range(20)]


@pytest.fixture
def folder(add_dataset: Any) -> Path:
    add_dataset("one", ROWS[:12])
    return add_dataset("two", ROWS[12:])


def config(folder: Path, tiny_model: Path, **values: Any) -> Any:
    return validate_config(
        {"model_name_or_path": str(tiny_model), "dataset": "one", "dataset_dir": str(folder), "template": "qwen",
         "cutoff_len": 128, **values}
    )  # fmt: skip


def test_rows_come_in_dataset_order(folder: Path, tiny_model: Path, tokenizer: Any) -> None:
    data = prepare_datasets(config(folder, tiny_model, dataset="one,two"), tokenizer)
    decoded = [tokenizer.decode(row["input_ids"]) for row in data.train_dataset]
    assert [f"Question {i}?" in text for i, text in enumerate(decoded)] == [True] * 20
    assert data.eval_dataset is None and data.source == "tokenized"


def test_the_second_run_comes_from_the_cache_and_options_invalidate_it(
    folder: Path, tiny_model: Path, tokenizer: Any
) -> None:
    first = prepare_datasets(config(folder, tiny_model), tokenizer)
    again = prepare_datasets(config(folder, tiny_model), tokenizer)
    assert again.source == "cache" and again.train_dataset["input_ids"] == first.train_dataset["input_ids"]
    assert prepare_datasets(config(folder, tiny_model, cutoff_len=16), tokenizer).source == "tokenized"
    assert prepare_datasets(config(folder, tiny_model, overwrite_cache=True), tokenizer).source == "tokenized"


def test_changed_data_file_invalidates_the_cache(add_dataset: Any, tiny_model: Path, tokenizer: Any) -> None:
    folder = add_dataset("one", ROWS[:3])
    prepare_datasets(config(folder, tiny_model), tokenizer)
    add_dataset("one", ROWS[3:6])
    changed = prepare_datasets(config(folder, tiny_model), tokenizer)
    assert changed.source == "tokenized" and "Question 3?" in tokenizer.decode(
        changed.train_dataset[0]["input_ids"]
    )


def test_tokenized_path_is_written_then_loaded(
    folder: Path, tiny_model: Path, tokenizer: Any, tmp_path: Path
) -> None:
    target = tmp_path / "tokenized"
    written = prepare_datasets(
        config(folder, tiny_model, tokenized_path=str(target), val_size=0.25), tokenizer
    )
    assert (target / "dataset_dict.json").is_file() and {p.name for p in target.iterdir()} >= {
        "train",
        "validation",
    }
    loaded = prepare_datasets(
        config(folder, tiny_model, tokenized_path=str(target), dataset="missing"), tokenizer
    )
    assert loaded.source == "tokenized_path"
    assert loaded.train_dataset["input_ids"] == written.train_dataset["input_ids"]
    assert len(loaded.eval_dataset) == 3 and len(loaded.train_dataset) == 9


def test_eval_datasets_separately_or_merged(folder: Path, tiny_model: Path, tokenizer: Any) -> None:
    merged = prepare_datasets(config(folder, tiny_model, eval_dataset="one,two"), tokenizer)
    assert len(merged.eval_dataset) == 20
    each = prepare_datasets(
        config(folder, tiny_model, eval_dataset="one,two", eval_on_each_dataset=True), tokenizer
    )
    assert {name: len(data) for name, data in each.eval_dataset.items()} == {"one": 12, "two": 8}


def test_generation_eval_rows_are_prompt_only(folder: Path, tiny_model: Path, tokenizer: Any) -> None:
    cfg = config(folder, tiny_model, eval_dataset="two", predict_with_generate=True)
    template = resolve_template(cfg, tokenizer)
    splits = tokenize_splits(cfg, tokenizer, template).splits
    assert tokenizer.decode(splits["validation"]["input_ids"][0]).endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(splits["validation"]["labels"][0]) == "Answer 12.<|im_end|>\n"


def test_workers_give_the_same_rows(folder: Path, tiny_model: Path, tokenizer: Any) -> None:
    cfg = config(folder, tiny_model, dataset="one,two")
    template = resolve_template(cfg, tokenizer)
    alone = tokenize_splits(cfg, tokenizer, template).splits["train"]
    parallel = tokenize_splits(
        config(folder, tiny_model, dataset="one,two", preprocessing_num_workers=2), tokenizer, template
    )
    assert parallel.splits["train"]["input_ids"] == alone["input_ids"]


def test_streaming_tokenizes_while_reading(folder: Path, tiny_model: Path, tokenizer: Any) -> None:
    data = prepare_datasets(
        config(folder, tiny_model, dataset="one,two", streaming=True, val_size=4, buffer_size=4), tokenizer
    )
    train = list(data.train_dataset)
    held = list(data.eval_dataset)
    assert (len(train), len(held)) == (16, 4)
    texts = sorted(tokenizer.decode(row["input_ids"]) for row in train + held)
    assert len(set(texts)) == 20


def test_pt_packing_block_size_follows_llamafactory(folder: Path, tiny_model: Path) -> None:
    assert process_options(config(folder, tiny_model, stage="pt")).cutoff_len == 128
    assert (
        process_options(config(folder, tiny_model, stage="pt", packing=True)).cutoff_len == 127
    )  # explicit: one less
    assert process_options(config(folder, tiny_model, neat_packing=True)).packing


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"dataset": None}, "dataset: no dataset given"),
        (
            {"eval_dataset": "two", "val_size": 0.1},
            "val_size: cannot hold out a validation split when eval_dataset is given",
        ),
        ({"streaming": True, "val_size": 0.5}, "val_size: with streaming, give a number of rows"),
        ({"streaming": True, "max_samples": 3}, "max_samples: cannot be used with streaming"),
        (
            {"mask_history": True, "train_on_prompt": True},
            "mask_history: cannot be combined with train_on_prompt",
        ),
        (
            {"stage": "dpo", "train_on_prompt": True},
            "train_on_prompt, mask_history and neat_packing are for stage sft, not dpo",
        ),
    ],
)
def test_data_key_rules(folder: Path, tiny_model: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        check_data_config(config(folder, tiny_model, **values))


def test_interleave_probs_need_an_interleaving_strategy(folder: Path, tiny_model: Path) -> None:
    cfg = config(folder, tiny_model, dataset="one,two", interleave_probs="0.5,0.5")
    with pytest.raises(
        DataError, match="interleave_probs: only used with mix_strategy interleave_under or interleave_over"
    ):
        check_data_config(cfg)


def test_interleaved_datasets(folder: Path, tiny_model: Path, tokenizer: Any) -> None:
    data = prepare_datasets(
        config(folder, tiny_model, dataset="one,two", mix_strategy="interleave_under"), tokenizer
    )
    first = [tokenizer.decode(row["input_ids"]) for row in data.train_dataset][:2]
    assert "Question 0?" in first[0] and "Question 12?" in first[1]
    assert len(data.train_dataset) == 16


def test_tokenized_path_cannot_be_streamed(
    folder: Path, tiny_model: Path, tokenizer: Any, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="tokenized_path: cannot save a streamed dataset"):
        prepare_datasets(
            config(folder, tiny_model, streaming=True, tokenized_path=str(tmp_path / "t")), tokenizer
        )


def test_val_size_needs_a_training_dataset(folder: Path, tiny_model: Path) -> None:
    with pytest.raises(DataError, match="val_size: needs dataset to split a validation set from"):
        check_data_config(config(folder, tiny_model, dataset=None, eval_dataset="one", val_size=0.1))


def test_pretraining_text_shorter_than_one_block_is_named(
    folder: Path, tiny_model: Path, tokenizer: Any
) -> None:
    cfg = config(folder, tiny_model, stage="pt", cutoff_len=100000)
    with pytest.raises(
        DataError, match="split 'train' has no samples after tokenization \\(pt needs at least cutoff_len"
    ):
        tokenize_splits(cfg, tokenizer, resolve_template(cfg, tokenizer))
