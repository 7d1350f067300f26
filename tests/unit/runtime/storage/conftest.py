"""The S3-compatible server the storage tests share (one per test module)."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]


def _load_hack(name: str) -> Any:
    if "hack" not in sys.modules:  # hack/ is not installed; the repo root must not shadow `operator`
        hack = types.ModuleType("hack")
        hack.__path__ = [str(REPO_ROOT / "hack")]
        sys.modules["hack"] = hack
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """moto's standalone S3 server with IAM authentication on (hack/s3_server.py)."""
    with _load_hack("hack.s3_server").s3_server(tmp_path_factory.mktemp("s3") / "server.log") as started:
        yield started
