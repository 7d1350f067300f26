"""`make demo`: fine-tune the tiny model with LoRA on LLaMA-Factory's identity data, show it learned.

Steps: write the tiny model (cached), run the real `kubefactory train` command on
examples/train_lora/tiny_identity_lora_sft.yaml, then greedy-decode questions from the training
set with base + adapter and print each answer next to the one it was taught.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "examples" / "train_lora" / "tiny_identity_lora_sft.yaml"
DATA = Path(os.environ.get("KUBEFACTORY_DEMO_DATA", REPO.parent / "shared" / "datasets" / "llamafactory-demo"))
OUTPUT = REPO / "saves" / "demo" / "identity-lora"
KUBEFACTORY = Path(sys.executable).parent / "kubefactory"
QUESTIONS = 3  # rows of identity.json to ask


def main() -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.time()
    print("1/3 tiny model: ", end="", flush=True)
    model = subprocess.run(
        [str(KUBEFACTORY), "tiny-model", "--corpus", str(DATA), "--hidden-size", "128", "--layers", "4"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    print(model)

    print(f"2/3 kubefactory train {CONFIG.relative_to(REPO)} ...", flush=True)
    train = subprocess.run(
        [str(KUBEFACTORY), "train", str(CONFIG), f"model_name_or_path={model}", f"output_dir={OUTPUT}",
         f"dataset_dir={DATA}", "disable_tqdm=true"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    if train.returncode != 0:
        print(train.stdout[-3000:], train.stderr[-5000:], sep="\n", file=sys.stderr)
        return train.returncode
    losses = [r["loss"] for r in map(json.loads, (OUTPUT / "trainer_log.jsonl").read_text().splitlines()) if "loss" in r]
    print(f"    loss: {losses[0]:.3f} at the start → {losses[-1]:.3f} at the end ({len(losses)} log lines)")
    print(f"    adapter, tokenizer, trainer_log.jsonl and training_loss.png in {OUTPUT.relative_to(REPO)}")

    print("3/3 greedy answers of base + adapter to questions it was trained on:")
    matches = _ask(Path(model), OUTPUT, json.loads((DATA / "identity.json").read_text())[:QUESTIONS])
    print(f"\n{matches}/{QUESTIONS} answers reproduce what was taught; demo took {time.time() - started:.0f}s")
    learned = losses[-1] < losses[0] / 4 and matches > 0
    if not learned:
        print("the model did not learn the identity answers", file=sys.stderr)
    return 0 if learned else 1


def _ask(base: Path, adapter: Path, rows: list[dict[str, str]]) -> int:
    import torch
    from kubefactory.runtime.data.example import Message
    from kubefactory.runtime.data.templates import get_template
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(adapter)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).eval()
    template = get_template("qwen")
    matches = 0
    for row in rows:
        prompt = template.encode_turns(tokenizer, [Message("user", row["instruction"])])[0]
        with torch.no_grad():
            out = model.generate(
                input_ids=torch.tensor([prompt]), max_new_tokens=64, do_sample=False,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
            )  # fmt: skip
        answer = tokenizer.decode(out[0, len(prompt) :], skip_special_tokens=True).strip()
        same = answer == row["output"].strip()
        matches += same
        print(f"\n    Q: {row['instruction']}\n    taught:  {row['output']}\n    answers: {answer}  [{'same' if same else 'differs'}]")
    return matches


if __name__ == "__main__":
    raise SystemExit(main())
