"""Our tokenization equals LLaMA-Factory 0.9.5's, row for row, on its demo datasets.

The golden files are written by tests/golden/generate_llamafactory_goldens.py inside a
LLaMA-Factory venv; they keep one hash per row of the columns each stage writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).resolve().parents[4] / "tests" / "golden"
sys.path.insert(0, str(GOLDEN))

import golden_format as gf  # noqa: E402

CASES = {case["name"]: case for case in gf.cases()}
FILES = sorted(gf.GOLDEN_DIR.glob("*.json"))


def test_every_case_has_a_golden_file() -> None:
    missing = [name for name, case in CASES.items() if not gf.golden_path(case).exists()]
    assert not missing, f"regenerate with tests/golden/generate_llamafactory_goldens.py: {missing}"


def _ours(case: dict[str, Any], model_dir: Path, dataset_dir: Path) -> dict[str, list[dict[str, Any]]]:
    from kubefactory.runtime.config import validate_config
    from kubefactory.runtime.data.pipeline import tokenize_splits
    from kubefactory.runtime.data.templates import resolve_template
    from transformers import AutoTokenizer

    config = validate_config(
        {
            "model_name_or_path": str(model_dir),
            "stage": {"rm": "dpo"}.get(case["stage"], case["stage"]),
            "dataset": case["dataset"],
            "dataset_dir": str(dataset_dir),
            "template": case["template"],
            **case["options"],
        }
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.add_special_tokens(gf.variant_for(case["template"]))
    template = resolve_template(config, tokenizer)
    splits = tokenize_splits(config, tokenizer, template).splits
    out = {}
    for name, columns in splits.items():
        names = list(columns)
        out[name] = [dict(zip(names, values)) for values in zip(*(columns[n] for n in names))]
    return out


@pytest.mark.parametrize("golden_file", FILES, ids=[f.stem for f in FILES])
def test_same_rows_as_llamafactory(
    golden_file: Path, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubefactory.runtime.data.templates import tools

    golden = gf.load_golden(golden_file)
    case = golden["case"]
    assert golden["tokenizer"] == gf.tokenizer_digest(tiny_model), (
        "the tiny model's tokenizer changed since the golden files were written: regenerate them"
    )
    monkeypatch.setattr(tools, "today", lambda: gf.TOOL_DATE)
    tokenizer_dir = gf.prepare_tokenizer_dir(tiny_model, tmp_path / "tokenizer")
    splits = _ours(case, tokenizer_dir, gf.prepare_dataset_dir(tmp_path / "data"))
    ours = gf.summarize(splits, gf.columns_for(case))
    assert list(ours) == list(golden["splits"])
    for split, expected in golden["splits"].items():
        got = ours[split]
        assert got["rows"] == expected["rows"], (
            f"{split}: {got['rows']} rows, LLaMA-Factory {expected['rows']}"
        )
        first = next((i for i, (a, b) in enumerate(zip(got["hashes"], expected["hashes"])) if a != b), None)
        assert first is None, f"{split}: row {first} differs from LLaMA-Factory's (of {got['rows']} rows)"
        assert got["tokens"] == expected["tokens"]
