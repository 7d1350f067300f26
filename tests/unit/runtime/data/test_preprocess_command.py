"""`kubefactory preprocess`: writes tokenized_path like train would, answers reruns from the cache."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubefactory.runtime.cli import main


@pytest.fixture
def config_file(tmp_path: Path, tiny_model: Path, demo_data: Path) -> Path:
    path = tmp_path / "config.yaml"
    values = {"model_name_or_path": str(tiny_model), "stage": "sft", "dataset": "identity", "dataset_dir": str(demo_data),
              "template": "qwen", "cutoff_len": 256, "output_dir": str(tmp_path / "out")}  # fmt: skip
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def test_preprocess_writes_tokenized_path_then_reuses_the_cache(
    config_file: Path, tmp_path: Path, capsys: Any
) -> None:
    from datasets import load_from_disk

    first = tmp_path / "tok1"
    assert main(["preprocess", str(config_file), f"tokenized_path={first}", "val_size=0.1"]) == 0
    out = capsys.readouterr().out
    assert "dataset identity (alpaca): kept 91 of 91 rows" in out
    assert "split train: 81 rows" in out and "split validation: 10 rows" in out and "tokenized in" in out
    data = load_from_disk(str(first))
    assert set(data["train"].column_names) == {
        "input_ids",
        "attention_mask",
        "labels",
        "images",
        "videos",
        "audios",
    }

    second = tmp_path / "tok2"
    start = time.perf_counter()
    assert main(["preprocess", str(config_file), f"tokenized_path={second}", "val_size=0.1"]) == 0
    assert time.perf_counter() - start < 2.0
    assert "from the cache" in capsys.readouterr().out
    assert load_from_disk(str(second))["train"]["input_ids"] == data["train"]["input_ids"]


def test_a_cache_hit_imports_neither_transformers_nor_datasets(config_file: Path) -> None:
    assert main(["preprocess", str(config_file)]) == 0  # fills the cache
    probe = (
        "import sys; from kubefactory.runtime.cli import main; code = main(['preprocess', sys.argv[1]]); "
        "print(code, 'transformers' in sys.modules, 'datasets' in sys.modules, 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(config_file)], capture_output=True, text=True,
                            env=os.environ.copy(), cwd="/", timeout=120)  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "0 False False False", result.stderr


def test_existing_tokenized_path_is_left_alone(config_file: Path, tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x", encoding="utf-8")
    assert main(["preprocess", str(config_file), f"tokenized_path={tmp_path / 'full'}"]) == 0
    assert "already holds a tokenized dataset: train will load it" in capsys.readouterr().out


def test_bad_data_is_a_clear_error(config_file: Path, capsys: Any) -> None:
    assert main(["preprocess", str(config_file), "dataset=identiy"]) == 1
    assert (
        "kubefactory preprocess: error: dataset 'identiy' (did you mean 'identity'?) not defined"
        in capsys.readouterr().err
    )


def test_streaming_cannot_be_preprocessed(config_file: Path, capsys: Any) -> None:
    assert main(["preprocess", str(config_file), "streaming=true"]) == 1
    assert (
        "streaming: preprocess writes the whole tokenized dataset; turn streaming off"
        in capsys.readouterr().err
    )
