"""Tokenize the demo datasets with LLaMA-Factory 0.9.5 and write the golden files under
tests/golden/llamafactory/. Run by hand, inside LLaMA-Factory's venv (never by the tests):

    python -m bench.lf_env                                   # prints (or builds) its python
    cd /tmp && LF_PYTHON=$(cd /work/main && .venv/bin/python -m bench.lf_env) && \\
      $LF_PYTHON /work/main/tests/golden/generate_llamafactory_goldens.py TINY_MODEL_DIR [CASE_NAME ...]

TINY_MODEL_DIR is what `kubefactory tiny-model --corpus /work/shared/datasets/llamafactory-demo`
prints. Run it from outside the repository: the repository's `operator/` folder would shadow
Python's own `operator` module.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import golden_format as gf


def _pin_tool_date() -> None:
    import llamafactory.data.tool_utils as tool_utils

    class _PinnedDatetime:
        @staticmethod
        def now() -> Any:
            class _Now:
                @staticmethod
                def strftime(_: str) -> str:
                    return gf.TOOL_DATE

            return _Now()

    tool_utils.datetime = _PinnedDatetime  # type: ignore[attr-defined]


def _rows(dataset: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in dataset]


def run_case(case: dict[str, Any], model_dir: str, dataset_dir: Path, work: Path) -> dict[str, Any]:
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    args = {
        "model_name_or_path": model_dir,
        "stage": {"rm": "dpo"}.get(case["stage"], case["stage"]),
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": case["dataset"],
        "dataset_dir": str(dataset_dir),
        "template": case["template"],
        "output_dir": str(work / case["name"]),
        "overwrite_cache": True,
        "report_to": "none",
        **case["options"],
    }
    model_args, data_args, training_args, _, _ = get_train_args(args)
    module = load_tokenizer(model_args)
    tokenizer = module["tokenizer"]
    tokenizer.add_special_tokens(gf.variant_for(case["template"]))
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    data = get_dataset(template, model_args, data_args, training_args, stage=case["stage"], **module)
    splits = {"train": _rows(data["train_dataset"])}
    if data.get("eval_dataset") is not None:
        splits["validation"] = _rows(data["eval_dataset"])
    return splits


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    model_dir, only = argv[0], set(argv[1:])
    os.environ.setdefault("DISABLE_VERSION_CHECK", "1")
    import llamafactory

    _pin_tool_date()
    gf.GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HF_DATASETS_CACHE"] = str(Path(tmp) / "hf-datasets")
        dataset_dir = gf.prepare_dataset_dir(Path(tmp) / "data")
        tokenizer_dir = str(gf.prepare_tokenizer_dir(model_dir, Path(tmp) / "tokenizer"))
        for case in gf.cases():
            if only and case["name"] not in only:
                continue
            splits = run_case(case, tokenizer_dir, dataset_dir, Path(tmp))
            golden = {
                "case": case,
                "llamafactory": llamafactory.__version__,
                "tokenizer": gf.tokenizer_digest(model_dir),
                "splits": gf.summarize(splits, gf.columns_for(case)),
            }
            gf.golden_path(case).write_text(gf.dump_golden(golden), encoding="utf-8")
            print(case["name"], {name: len(rows) for name, rows in splits.items()}, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
