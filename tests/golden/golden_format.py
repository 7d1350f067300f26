"""What the LLaMA-Factory golden files hold, shared by their generator (run in LLaMA-Factory's
venv) and the tests that compare against them (run in ours). Standard library only.

A case is one dataset tokenized with one template and one set of options. A golden file keeps,
per split, one short hash per row of the columns the stage writes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent / "llamafactory"
DEMO_DIR = "/work/shared/datasets/llamafactory-demo"
TOOL_DATE = "26 Jul 2024"  # Llama 3 tool prompts carry today's date: both sides pin it

# Special tokens each template family needs on the tiny model's tokenizer (which has them all
# in its vocabulary, but names only eos and pad).
TOKENIZER_VARIANTS: dict[str, dict[str, str]] = {
    "plain": {},
    "llama3": {"bos_token": "<|begin_of_text|>"},
    "mistral": {"bos_token": "<s>", "eos_token": "</s>"},
}
TEMPLATE_VARIANT = {"llama3": "llama3", "mistral": "mistral"}

COLUMNS = {
    "pt": ("input_ids", "attention_mask"),
    "sft": ("input_ids", "attention_mask", "labels"),
    "sft_packed": ("input_ids", "attention_mask", "labels", "position_ids"),
    "rm": ("chosen_input_ids", "chosen_labels", "rejected_input_ids", "rejected_labels"),
    "kto": ("input_ids", "labels", "kl_input_ids", "kl_labels", "kto_tags"),
}

TEMPLATES = ("qwen", "llama3", "chatml", "default", "mistral")
# mllm_demo is compared on its text: its images column is dropped on both sides (a text template
# cannot take images), its <image> placeholders stay in the text.
TEXT_ONLY = {"mllm_demo_text": {"file_name": "mllm_demo.json", "formatting": "sharegpt",
             "columns": {"messages": "messages"},
             "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}}  # fmt: skip


def _case(name: str, stage: str, dataset: str, template: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "stage": stage, "dataset": dataset, "template": template, "options": options}


def cases() -> list[dict[str, Any]]:
    out = []
    for template in TEMPLATES:
        for dataset in ("alpaca_en_demo", "identity", "glaive_toolcall_en_demo", "mllm_demo_text"):
            out.append(_case(f"sft-{dataset}-{template}", "sft", dataset, template, cutoff_len=1024))
        out.append(_case(f"dpo-{template}", "rm", "dpo_en_demo", template, cutoff_len=1024))
        out.append(_case(f"kto-{template}", "kto", "kto_en_demo", template, cutoff_len=1024))
    for template in ("qwen", "llama3"):
        out.append(_case(f"pt-c4-{template}", "pt", "c4_demo", template, cutoff_len=512))
        out.append(_case(f"sft-glaive-mask_history-{template}", "sft", "glaive_toolcall_en_demo", template,
                         cutoff_len=1024, mask_history=True))  # fmt: skip
        out.append(_case(f"sft-alpaca-train_on_prompt-{template}", "sft", "alpaca_en_demo", template,
                         cutoff_len=1024, train_on_prompt=True))  # fmt: skip
        out.append(
            _case(
                f"sft-alpaca-packing-{template}",
                "sft",
                "alpaca_en_demo",
                template,
                cutoff_len=1024,
                packing=True,
            )
        )
    out += [
        _case("pt-c4-qwen-nopacking", "pt", "c4_demo", "qwen", cutoff_len=256, packing=False),
        _case("pt-c4-qwen-packing-explicit", "pt", "c4_demo", "qwen", cutoff_len=512, packing=True),
        _case("sft-alpaca-short-qwen", "sft", "alpaca_en_demo", "qwen", cutoff_len=64),
        _case(
            "sft-glaive-short-mistral",
            "sft",
            "glaive_toolcall_en_demo",
            "mistral",
            cutoff_len=96,
            mask_history=True,
        ),
        _case("sft-identity-neat_packing-qwen", "sft", "identity", "qwen", cutoff_len=256, neat_packing=True),
        _case(
            "sft-alpaca-identity-val-qwen",
            "sft",
            "alpaca_en_demo,identity",
            "qwen",
            cutoff_len=512,
            val_size=0.1,
        ),
        _case("dpo-short-llama3", "rm", "dpo_en_demo", "llama3", cutoff_len=128),
        _case("kto-short-default", "kto", "kto_en_demo", "default", cutoff_len=128),
    ]
    return out


def columns_for(case: dict[str, Any]) -> tuple[str, ...]:
    options = case["options"]
    if case["stage"] == "sft" and (options.get("packing") or options.get("neat_packing")):
        return COLUMNS["sft_packed"]
    return COLUMNS[case["stage"]]


def row_hash(row: dict[str, Any], columns: tuple[str, ...]) -> str:
    payload = json.dumps([row[name] for name in columns], separators=(",", ":"))
    return hashlib.sha1(payload.encode()).hexdigest()[:12]


def summarize(splits: dict[str, list[dict[str, Any]]], columns: tuple[str, ...]) -> dict[str, Any]:
    """Per split: the row count, the token count and one hash per row."""
    out = {}
    for name, rows in splits.items():
        first = columns[0]
        out[name] = {
            "rows": len(rows),
            "tokens": sum(len(row[first]) for row in rows),
            "hashes": [row_hash(row, columns) for row in rows],
        }
    return out


def golden_path(case: dict[str, Any]) -> Path:
    return GOLDEN_DIR / f"{case['name']}.json"


def prepare_dataset_dir(target: Path) -> Path:
    """The demo datasets plus the text-only view of mllm_demo, in a folder of links."""
    demo = Path(DEMO_DIR)
    target.mkdir(parents=True, exist_ok=True)
    for item in demo.iterdir():
        link = target / item.name
        if item.name != "dataset_info.json" and not link.exists():
            link.symlink_to(item)
    info = json.loads((demo / "dataset_info.json").read_text(encoding="utf-8"))
    info.update(TEXT_ONLY)
    (target / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return target


def tokenizer_digest(model_dir: str | Path) -> str:
    return hashlib.sha1((Path(model_dir) / "tokenizer.json").read_bytes()).hexdigest()[:16]


def variant_for(template: str) -> dict[str, str]:
    return TOKENIZER_VARIANTS[TEMPLATE_VARIANT.get(template, "plain")]


def prepare_tokenizer_dir(model_dir: str | Path, target: Path) -> Path:
    """The tiny model's tokenizer files alone. Next to the model's config.json, transformers 5.24
    loads it as a Qwen2Tokenizer, whose pre-tokenizer splits digits; transformers 5.6 (LLaMA-Factory's)
    keeps tokenizer.json's own. Without config.json both read tokenizer.json as it is."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        source = Path(model_dir) / name
        if source.exists():
            (target / name).write_bytes(source.read_bytes())
    return target


def dump_golden(golden: dict[str, Any]) -> str:
    """Readable header, one line of hashes per split (keeps the files small and diffs short)."""
    splits = golden["splits"]
    body = {
        **golden,
        "splits": {name: {**split, "hashes": " ".join(split["hashes"])} for name, split in splits.items()},
    }
    return json.dumps(body, indent=1) + "\n"


def load_golden(path: Path) -> dict[str, Any]:
    golden: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for split in golden["splits"].values():
        if isinstance(split["hashes"], str):
            split["hashes"] = split["hashes"].split()
    return golden
