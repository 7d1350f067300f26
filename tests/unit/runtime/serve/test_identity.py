"""After the demo's identity training, the served model answers a training question with the
taught answer: as base + adapter (a named LoRA adapter) and as the merged export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[4]
DEMO_CONFIG = REPO / "examples" / "train_lora" / "tiny_identity_lora_sft.yaml"
QUESTION = "Who are you?"  # row 3 of identity.json
TRAINED_ROWS = 8


def _cli(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "kubefactory.runtime.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # the tiny model trains fastest on one thread
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def taught_answer(demo_data: Path) -> str:
    rows = json.loads((demo_data / "identity.json").read_text(encoding="utf-8"))[:TRAINED_ROWS]
    return str(next(row["output"] for row in rows if row["instruction"] == QUESTION))


@pytest.fixture(scope="module")
def identity_adapter(tiny_model_dir: Path, demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's training config, shortened to the first rows of identity.json (trained once here):
    about 30 s on one CPU core, and greedy decoding then gives the taught answers word for word."""
    output = tmp_path_factory.mktemp("identity") / "adapter"
    _cli(
        "train",
        str(DEMO_CONFIG),
        f"model_name_or_path={tiny_model_dir}",
        f"dataset_dir={demo_data}",
        f"output_dir={output}",
        f"max_samples={TRAINED_ROWS}",
        "num_train_epochs=80",
        "plot_loss=false",
        "disable_tqdm=true",
        timeout=1800,
    )
    return output


def _ask(url: str, model: str) -> str | None:
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTION}], temperature=0, max_tokens=64
    )
    return reply.choices[0].message.content


def test_base_plus_adapter_answers_with_the_taught_answer(
    tiny_model_dir: Path,
    identity_adapter: Path,
    taught_answer: str,
    tmp_path: Path,
    serve_config: Any,
    api_server: Any,
) -> None:
    config = serve_config(
        tmp_path,
        model_name_or_path=str(tiny_model_dir),
        template="qwen",
        adapter_name_or_path=f"identity={identity_adapter}",
    )
    with api_server(config, {"API_MODEL_NAME": "tiny"}) as url:
        assert _ask(url, "identity") == taught_answer
        assert _ask(url, "tiny") != taught_answer  # the base alone was never taught


def test_merged_export_answers_with_the_taught_answer(
    tiny_model_dir: Path,
    identity_adapter: Path,
    taught_answer: str,
    tmp_path: Path,
    serve_config: Any,
    api_server: Any,
) -> None:
    export_dir = tmp_path / "merged"
    (tmp_path / "source").mkdir()
    source = serve_config(tmp_path / "source", model_name_or_path=str(tiny_model_dir), template="qwen")
    _cli(
        "export",
        str(source),
        f"adapter_name_or_path={identity_adapter}",
        f"export_dir={export_dir}",
        timeout=600,
    )
    config = serve_config(tmp_path, model_name_or_path=str(export_dir), template="qwen")
    with api_server(config) as url:
        assert _ask(url, "gpt-3.5-turbo") == taught_answer
