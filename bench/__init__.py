"""Reproducible benchmarks against named baselines measured in the same run (`make bench`).

A benchmark is a module of this package with `main(smoke: bool)`; `python -m bench` runs them
all (`--smoke` for the short versions CI runs). Results go to docs/benchmarks.md, one section
per benchmark, through `write_section`.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nMeasured with `make bench` (`python -m bench`); each section comes from one benchmark module.\n"


def write_section(title: str, body: str, path: Path = DOCS) -> None:
    """Replace the `## title` section of docs/benchmarks.md (or add it), keeping the others."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
