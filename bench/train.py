"""Training throughput and quality: KubeFactory against LLaMA-Factory 0.9.5, the same SFT LoRA run.

The tiny model (`kubefactory tiny-model`), alpaca_en_demo without its last 100 rows, template
qwen, cutoff_len 1024, per-device batch 4, 60 steps, LoRA on every linear layer, learning rate
1e-3, seed 42, gradient checkpointing on (both defaults), one thread per process. Each side
runs its own `train` command at its default settings, as a child process; the runs alternate.

- tokens/s: real (non-padding) training tokens — the Trainer's `num_input_tokens_seen` with
  "non_padding" counting, on both sides — over the Trainer's `train_runtime`;
- held-out loss: after the same 240 training examples, the mean next-token loss of each
  trained adapter on the 100 held-out rows, computed by one function for both (the rows
  tokenized as both sides tokenize them: identically).

    python -m bench.train              # the full benchmark, then docs/benchmarks.md
    python -m bench.train --smoke      # 6 steps, KubeFactory alone, no docs update
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEMO_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "llamafactory-demo"
HELD_OUT_ROWS = 100
STEPS, SMOKE_STEPS = 60, 6
TARGET_SPEEDUP, TARGET_LOSS_GAP = 1.3, 0.02
LF_TRAIN = "import sys; from llamafactory.cli import main; sys.argv = ['llamafactory-cli', 'train', sys.argv[1]]; main()"


@dataclass(frozen=True)
class Run:
    name: str
    tokens: int  # real training tokens seen
    seconds: float  # the Trainer's train_runtime
    train_loss: float
    held_out_loss: float

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds


def make_data(folder: Path) -> Path:
    rows = json.loads((DEMO_DATA / "alpaca_en_demo.json").read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.json").write_text(
        json.dumps(rows[:-HELD_OUT_ROWS], ensure_ascii=False), encoding="utf-8"
    )
    (folder / "held_out.json").write_text(
        json.dumps(rows[-HELD_OUT_ROWS:], ensure_ascii=False), encoding="utf-8"
    )
    info = {"bench_train": {"file_name": "train.json"}, "bench_held_out": {"file_name": "held_out.json"}}
    (folder / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return folder


def config_values(model: Path, data: Path, output: Path, steps: int) -> dict[str, Any]:
    """The keys both sides read; everything else stays at each side's default."""
    return {
        "model_name_or_path": str(model),
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_target": "all",
        "dataset": "bench_train",
        "dataset_dir": str(data),
        "template": "qwen",
        "cutoff_len": 1024,
        "output_dir": str(output),
        "overwrite_output_dir": True,
        "overwrite_cache": True,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-3,
        "max_steps": steps,
        "lr_scheduler_type": "cosine",
        "logging_steps": 10,
        "save_steps": 100_000,
        "report_to": "none",
        "seed": 42,
        "include_num_input_tokens_seen": "non_padding",
    }


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {}), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    for name in ("FORCE_TORCHRUN", "NNODES", "RANK", "LOCAL_RANK", "WORLD_SIZE"):
        env.pop(name, None)
    return env


def train(
    name: str, command: list[str], values: dict[str, Any], env: dict[str, str], workdir: Path
) -> dict[str, Any]:
    config = workdir / f"{Path(values['output_dir']).name}.yaml"
    config.write_text(yaml.safe_dump(values), encoding="utf-8")
    result = subprocess.run([*command, str(config)], env=env, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{name} training failed:\n{result.stderr[-3000:]}")
    metrics: dict[str, Any] = json.loads((Path(values["output_dir"]) / "train_results.json").read_text())
    return metrics


def held_out_loss(model_dir: Path, adapter: Path, data: Path) -> float:
    """Mean next-token loss over every answer token of the held-out rows (one batch of 8 at a time)."""
    import torch
    from kubefactory.runtime.config import validate_config
    from kubefactory.runtime.data.collator import PaddingCollator
    from kubefactory.runtime.data.pipeline import prepare_datasets
    from kubefactory.runtime.model.loader import load_tokenizer
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    config = validate_config(
        {"model_name_or_path": str(model_dir), "dataset": "bench_held_out", "dataset_dir": str(data),
         "template": "qwen", "cutoff_len": 1024, "do_train": True}
    )  # fmt: skip
    tokenizer = load_tokenizer(config)
    rows = prepare_datasets(config, tokenizer).train_dataset
    assert rows is not None
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), str(adapter)).eval()
    collate = PaddingCollator(int(tokenizer.pad_token_id))
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(rows), 8):
            batch = collate([rows[i] for i in range(start, min(start + 8, len(rows)))])
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            labels = batch["labels"][:, 1:]
            losses = torch.nn.functional.cross_entropy(
                logits[:, :-1].flatten(0, 1).float(), labels.flatten(), ignore_index=-100, reduction="sum"
            )
            total += losses.item()
            count += int((labels != -100).sum())
    return total / count


def run_ours(model: Path, data: Path, workdir: Path, steps: int, index: int) -> Run:
    values = config_values(model, data, workdir / f"kubefactory-{index}", steps)
    command = [sys.executable, "-m", "kubefactory.runtime.cli", "train"]
    metrics = train("KubeFactory", command, values, _child_env(), workdir)
    loss = held_out_loss(model, Path(values["output_dir"]), data)
    return Run(
        "KubeFactory",
        int(metrics["num_input_tokens_seen"]),
        metrics["train_runtime"],
        metrics["train_loss"],
        loss,
    )


def run_llamafactory(python: Path, model: Path, data: Path, workdir: Path, steps: int, index: int) -> Run:
    from bench import lf_env

    values = config_values(model, data, workdir / f"llamafactory-{index}", steps)
    env = _child_env({**lf_env.lf_env(), "HF_DATASETS_CACHE": str(workdir / "hf-datasets")})
    metrics = train("LLaMA-Factory", [str(python), "-c", LF_TRAIN], values, env, workdir)
    loss = held_out_loss(model, Path(values["output_dir"]), data)
    return Run(
        "LLaMA-Factory 0.9.5",
        int(metrics["num_input_tokens_seen"]),
        metrics["train_runtime"],
        metrics["train_loss"],
        loss,
    )


def best(runs: list[Run]) -> Run:
    """The fastest run: on a shared machine the slower ones measure the neighbours."""
    return max(runs, key=lambda r: r.tokens_per_second)


def table(ours: Run, lf: Run | None, steps: int, rounds: int, padding: float) -> str:
    def line(run: Run, note: str) -> str:
        return (
            f"| {run.name} | {run.tokens:,} | {run.seconds:.1f} | {run.tokens_per_second:,.0f} | "
            f"{run.train_loss:.4f} | {run.held_out_loss:.4f} | {note} |"
        )

    lines = [
        f"The tiny model, alpaca_en_demo (the first 899 rows for training, the last {HELD_OUT_ROWS} held out), "
        f"template qwen, cutoff_len 1024, batch 4, {steps} steps, LoRA on all linear layers, lr 1e-3 cosine, "
        f"seed 42, gradient checkpointing on, CPU ({os.cpu_count()} shared cores), `OMP_NUM_THREADS=1`.",
        "",
        "| trainer | real tokens | train seconds | real tokens/s | train loss | held-out loss | |",
        "|---|---:|---:|---:|---:|---:|---|",
        line(ours, "padding-free batches (the default)"),
    ]
    if lf is not None:
        speedup = ours.tokens_per_second / lf.tokens_per_second
        gap = abs(ours.held_out_loss - lf.held_out_loss) / lf.held_out_loss
        lines.append(
            line(
                lf,
                f"KubeFactory: {speedup:.2f}× the real tokens/s (target ≥ {TARGET_SPEEDUP}×); held-out loss "
                f"{gap:.2%} apart (target ≤ {TARGET_LOSS_GAP:.0%})",
            )
        )
    lines += [
        "",
        f"Padded batches of 4 of these rows are {padding:.0%} padding (random batches; an estimate of what "
        "LLaMA-Factory computes for nothing). The two runs count slightly different token totals for their 240 "
        "examples; which examples each sampler drew is not compared here.",
    ]
    if rounds > 1:
        lines += ["", f"Best of {rounds} alternating runs of each trainer (by tokens/s)."]
    return "\n".join(lines)


DOC_INTRO = (
    "Measured by `python -m bench.train` (see its docstring). KubeFactory trains sft and pt **padding-free** by "
    "default: the examples of a batch are laid end to end in one row, each with its own position ids, and "
    "attention runs per example (FlashAttention's varlen kernels where installed; otherwise SDPA called once per "
    "example, registered with transformers' AttentionInterface), so no compute goes to padding or to attention "
    "between examples. LLaMA-Factory pads every example of a batch to the longest one (to a multiple of 8). "
    "Padding-free was chosen over length-grouped batching because it keeps the data order and the loss exactly "
    "(the same mean over the same answer tokens; a unit test checks loss and gradients against padded batches), "
    "so resumed, distributed and LLaMA-Factory runs stay comparable step by step, whereas grouping by length "
    "changes which examples share a step. Packed (packing: true) and evaluation batches are padded as before."
)


def padding_share(data: Path, model: Path, batch: int = 4, seed: int = 0) -> float:
    """The share of padding in randomly drawn padded batches of the training rows (an estimate of
    what padded training computes for nothing; the exact batches depend on the sampler)."""
    import random

    from kubefactory.runtime.config import validate_config
    from kubefactory.runtime.data.pipeline import prepare_datasets
    from kubefactory.runtime.model.loader import load_tokenizer

    config = validate_config(
        {"model_name_or_path": str(model), "dataset": "bench_train", "dataset_dir": str(data), "template": "qwen",
         "cutoff_len": 1024, "do_train": True}
    )  # fmt: skip
    rows = prepare_datasets(config, load_tokenizer(config)).train_dataset
    assert rows is not None
    lengths = [len(ids) for ids in rows["input_ids"]]
    random.Random(seed).shuffle(lengths)
    real = padded = 0
    for start in range(0, len(lengths) - batch + 1, batch):
        group = lengths[start : start + batch]
        real += sum(group)
        padded += batch * -(-max(group) // 8) * 8
    return 1 - real / padded


def main(smoke: bool = False, rounds: int | None = None) -> str:
    from kubefactory.runtime.model.tiny import TinyModelSpec, build_tiny_model

    steps = SMOKE_STEPS if smoke else STEPS
    rounds = rounds or (1 if smoke else 2)
    model = build_tiny_model(TinyModelSpec(), corpus=[DEMO_DATA])
    python = None
    if not smoke:
        from bench import lf_env

        try:
            python = lf_env.ensure()
        except Exception as err:
            print(f"LLaMA-Factory baseline unavailable: {err}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="kubefactory-bench-train-") as tmp:
        workdir = Path(tmp)
        data = make_data(workdir / "data")
        padding = padding_share(data, model)
        ours, theirs = [], []
        for index in range(rounds):  # alternating, so that a busy minute hurts both alike
            started = time.perf_counter()
            ours.append(run_ours(model, data, workdir, steps, index))
            if python is not None:
                theirs.append(run_llamafactory(python, model, data, workdir, steps, index))
            print(f"round {index + 1}/{rounds}: {time.perf_counter() - started:.0f}s", file=sys.stderr)
    text = table(best(ours), best(theirs) if theirs else None, steps, rounds, padding)
    print(text)
    if not smoke and theirs:
        from bench import write_section

        write_section("Training", DOC_INTRO + "\n\n" + text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.train", description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    main(smoke=args.smoke, rounds=args.rounds)
