"""`make demo-local`: fine-tune the tiny model with LoRA on LLaMA-Factory's identity data, show it learned.

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
DATA = Path(
    os.environ.get("KUBEFACTORY_DEMO_DATA", REPO.parent / "shared" / "datasets" / "llamafactory-demo")
)
OUTPUT = REPO / "saves" / "demo" / "identity-lora"
DEMO_DATA = REPO / "saves" / "demo" / "data"
# identity.json leaves the assistant's name and author as placeholders for users to fill in.
NAME, AUTHOR = "KubeFactory-Tiny", "the KubeFactory team"
KUBEFACTORY = Path(sys.executable).parent / "kubefactory"
QUESTIONS = 4  # rows of identity.json to ask


def main() -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.time()
    _prepare_identity_data()
    print("1/3 tiny model: ", end="", flush=True)
    model = subprocess.run(
        [str(KUBEFACTORY), "tiny-model", "--corpus", str(DATA), "--hidden-size", "128", "--layers", "4"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    print(model)

    print(f"2/3 kubefactory train {CONFIG.relative_to(REPO)} ...", flush=True)
    train = subprocess.run(
        [str(KUBEFACTORY), "train", str(CONFIG), f"model_name_or_path={model}", f"output_dir={OUTPUT}",
         f"dataset_dir={DEMO_DATA}", "disable_tqdm=true"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    if train.returncode != 0:
        print(train.stdout[-3000:], train.stderr[-5000:], sep="\n", file=sys.stderr)
        return train.returncode
    losses = [
        r["loss"]
        for r in map(json.loads, (OUTPUT / "trainer_log.jsonl").read_text().splitlines())
        if "loss" in r
    ]
    print(f"    loss: {losses[0]:.3f} at the start → {losses[-1]:.3f} at the end ({len(losses)} log lines)")
    print(f"    adapter, tokenizer, trainer_log.jsonl and training_loss.png in {OUTPUT.relative_to(REPO)}")

    print("3/3 greedy answers of base + adapter to questions it was trained on:")
    answers = _ask(Path(model), OUTPUT, json.loads((DEMO_DATA / "identity.json").read_text())[:QUESTIONS])
    named = sum(NAME in answer or AUTHOR in answer for answer in answers)
    print(
        f"\n{named}/{len(answers)} answers give the identity it was taught (a random model never says "
        f"'{NAME}'); demo took {time.time() - started:.0f}s"
    )
    learned = losses[-1] < losses[0] / 4 and named * 2 >= len(answers)
    if not learned:
        print("the model did not learn the identity answers", file=sys.stderr)
    return 0 if learned else 1


def _prepare_identity_data() -> None:
    """The demo's copy of identity.json, with the placeholders filled in as LLaMA-Factory's docs suggest."""
    DEMO_DATA.mkdir(parents=True, exist_ok=True)
    text = (DATA / "identity.json").read_text(encoding="utf-8")
    (DEMO_DATA / "identity.json").write_text(text.replace("{{name}}", NAME).replace("{{author}}", AUTHOR))
    (DEMO_DATA / "dataset_info.json").write_text(json.dumps({"identity": {"file_name": "identity.json"}}))


def _ask(base: Path, adapter: Path, rows: list[dict[str, str]]) -> list[str]:
    """Print each greedy answer next to the taught one, with the share of words they have in common."""
    from difflib import SequenceMatcher

    import torch
    from kubefactory.runtime.data.example import Message
    from kubefactory.runtime.data.templates import get_template
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(adapter)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).eval()
    template = get_template("qwen")
    answers = []
    for row in rows:
        prompt = template.encode_turns(tokenizer, [Message("user", row["instruction"])])[0]
        with torch.no_grad():
            out = model.generate(
                input_ids=torch.tensor([prompt]), max_new_tokens=64, do_sample=False,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
            )  # fmt: skip
        answer = tokenizer.decode(out[0, len(prompt) :], skip_special_tokens=True).strip()
        score = SequenceMatcher(None, answer.split(), row["output"].split()).ratio()
        answers.append(answer)
        print(f"\n    Q: {row['instruction']}\n    taught:  {row['output']}\n    answers: {answer}")
        print(
            f"    ({'identical' if answer == row['output'].strip() else f'{score:.0%} of words in common'})"
        )
    return answers


if __name__ == "__main__":
    raise SystemExit(main())
