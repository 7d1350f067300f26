"""After the demo's identity training, the served model answers a training question with the
taught answer: as base + adapter (a named LoRA adapter) and as the merged export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

pytestmark = pytest.mark.slow


def _ask(url: str, model: str, question: str) -> str | None:
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], temperature=0, max_tokens=64
    )
    return reply.choices[0].message.content


def test_base_plus_adapter_answers_with_the_taught_answer(
    tiny_model_dir: Path,
    identity_adapter: Path,
    taught_answer: str,
    identity_question: str,
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
        assert _ask(url, "identity", identity_question) == taught_answer
        assert _ask(url, "tiny", identity_question) != taught_answer  # the base alone was never taught


def test_merged_export_answers_with_the_taught_answer(
    tiny_model_dir: Path,
    identity_adapter: Path,
    taught_answer: str,
    identity_question: str,
    tmp_path: Path,
    serve_config: Any,
    api_server: Any,
    run_cli: Any,
) -> None:
    export_dir = tmp_path / "merged"
    (tmp_path / "source").mkdir()
    source = serve_config(tmp_path / "source", model_name_or_path=str(tiny_model_dir), template="qwen")
    run_cli(
        "export",
        str(source),
        f"adapter_name_or_path={identity_adapter}",
        f"export_dir={export_dir}",
        timeout=600,
    )
    config = serve_config(tmp_path, model_name_or_path=str(export_dir), template="qwen")
    with api_server(config) as url:
        assert _ask(url, "gpt-3.5-turbo", identity_question) == taught_answer
