"""`kubefactory chat` in a pseudo-terminal: a question, a streamed answer, `clear`, `exit`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest
from kubefactory.runtime.chat.command import CLEARED, WELCOME
from kubefactory.runtime.chat.session import ChatSession
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.model.inference import load_for_inference
from kubefactory.runtime.serve.hf_engine import BatchingEngine
from kubefactory.runtime.serve.sampling import params_from_config

SETTINGS = {"template": "qwen", "do_sample": False, "max_new_tokens": 12, "default_system": "Answer briefly."}


def _expected_answers(model: Path, questions: list[str]) -> list[str]:
    """What the same config answers in this process, turn after turn (greedy: deterministic)."""
    config = validate_config({"model_name_or_path": str(model), **SETTINGS})
    loaded = load_for_inference(config, "cpu")
    engine = BatchingEngine(loaded, max_batch_size=1)
    engine.start()
    try:
        session = ChatSession(engine, loaded.template, loaded.tokenizer, params_from_config(config))
        return ["".join(session.reply(question)) for question in questions]
    finally:
        engine.close()


def _answer(child: pexpect.spawn) -> str:
    child.expect_exact("Assistant: ")
    child.expect_exact("\r\n\r\nUser: ")  # the answer's line ends, then a blank line before the prompt
    return str(child.before).replace("\r\n", "\n")


def test_chat_in_a_terminal(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "chat.yaml"
    config.write_text(
        "".join(f"{k}: {v!r}\n" for k, v in {"model_name_or_path": str(tiny_model_dir), **SETTINGS}.items())
    )
    first, follow_up = _expected_answers(tiny_model_dir, ["hi", "who made you?"])
    assert first != follow_up

    child = pexpect.spawn(
        sys.executable,
        ["-m", "kubefactory.runtime.cli", "chat", str(config)],
        encoding="utf-8",
        timeout=180,
        dimensions=(50, 400),
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # the tiny model gains nothing from more threads
    )
    try:
        child.expect_exact(WELCOME)
        child.expect_exact("User: ")
        child.sendline("hi")
        assert _answer(child) == first
        child.sendline("who made you?")
        assert _answer(child) == follow_up  # the answer depends on the history ...
        child.sendline("clear")
        child.expect_exact(CLEARED)
        child.expect_exact("User: ")
        child.sendline("hi")
        assert _answer(child) == first  # ... and after `clear` there is none
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["infer_backend=vllm"], "infer_backend: chat runs the built-in huggingface engine"),
        (
            ["adapter_name_or_path=mine=/saves/mine"],
            "adapter_name_or_path: chat merges adapters; write plain paths",
        ),
    ],
)
def test_chat_refuses_other_engines(
    tiny_model_dir: Path, tmp_path: Path, overrides: list[str], message: str
) -> None:
    import subprocess

    config = tmp_path / "chat.yaml"
    config.write_text(f"model_name_or_path: {tiny_model_dir}\n")
    done = subprocess.run(
        [sys.executable, "-m", "kubefactory.runtime.cli", "chat", str(config), *overrides],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and message in done.stderr
