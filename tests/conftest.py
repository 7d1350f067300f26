"""Fixtures every tier shares: the repository's paths, the demo data and the tiny model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = Path(
    os.environ.get("KUBEFACTORY_DEMO_DATA", REPO.parent / "shared" / "datasets" / "llamafactory-demo")
)

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def demo_data() -> Path:
    if not (DEMO_DATA / "dataset_info.json").is_file():
        pytest.fail(f"demo data not found at {DEMO_DATA}; set KUBEFACTORY_DEMO_DATA")
    return DEMO_DATA


@pytest.fixture(scope="session")
def tiny_model(demo_data: Path) -> Path:
    """The default tiny model (hidden 64, 2 layers), built once and cached by its settings."""
    from kubefactory.runtime.model.tiny import TinyModelSpec, build_tiny_model

    return build_tiny_model(TinyModelSpec(), corpus=[demo_data])


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)
