"""The preprocessing benchmark's smoke mode runs (in seconds) and reports every pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture
def bench_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))


@pytest.mark.usefixtures("bench_package")
def test_smoke_mode_reports_throughput_and_the_cached_rerun() -> None:
    from bench import preprocess

    text = preprocess.main(smoke=True)
    assert "| KubeFactory | 200 |" in text
    assert "| tokenizer batch encoding | 200 |" in text
    assert "Cached rerun of `kubefactory preprocess`" in text


@pytest.mark.usefixtures("bench_package")
def test_write_section_replaces_only_its_own_section(tmp_path: Path) -> None:
    from bench import write_section

    doc = tmp_path / "benchmarks.md"
    write_section("Serving", "serving numbers", doc)
    write_section("Preprocessing", "old numbers", doc)
    write_section("Preprocessing", "new numbers", doc)
    text = doc.read_text(encoding="utf-8")
    assert text.count("## Preprocessing") == 1 and "new numbers" in text and "old numbers" not in text
    assert "## Serving\n\nserving numbers" in text


@pytest.mark.usefixtures("bench_package")
def test_bench_main_refuses_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import discover, main

    assert "preprocess" in discover() and "lf_env" not in discover()
    with pytest.raises(SystemExit):
        main(["nope"])
    assert "unknown benchmark nope; known:" in capsys.readouterr().err
    assert sys.modules["bench"].__file__.startswith(str(REPO))
