"""Shared by the image tests, imported by name (a second ``conftest`` module would be ambiguous).

They load ``hack/images`` and ``images/requirements.py`` by path: neither is installed.

``hack`` is registered as a namespace by hand: the repo root on ``sys.path`` would let the
project's ``operator/`` folder shadow the standard library's ``operator``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

if "hack" not in sys.modules:
    _hack = types.ModuleType("hack")
    _hack.__path__ = [str(REPO_ROOT / "hack")]
    sys.modules["hack"] = _hack


def load_requirements_script() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "image_requirements", REPO_ROOT / "images" / "requirements.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


names = importlib.import_module("hack.images.names")
dockerfile = importlib.import_module("hack.images.dockerfile")
