"""Fixtures of the chat tests."""

from __future__ import annotations

from pathlib import Path

import pytest

DEMO_DATA = Path(__file__).resolve().parents[4].parent / "shared" / "datasets" / "llamafactory-demo"


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from kubefactory.runtime.model.tiny import TinyModelSpec, build_tiny_model

    return build_tiny_model(TinyModelSpec(), corpus=[DEMO_DATA] if DEMO_DATA.is_dir() else [])
