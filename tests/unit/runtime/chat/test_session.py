"""The chat session: streamed answers, history that grows, `clear`, and a context that is respected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.chat.session import ChatSession
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.model.inference import load_for_inference
from kubefactory.runtime.serve.hf_engine import BatchingEngine
from kubefactory.runtime.serve.sampling import SamplingParams


@pytest.fixture
def session_for(tiny_model_dir: Path) -> Iterator[Any]:
    engines: list[BatchingEngine] = []

    def make(**values: Any) -> tuple[ChatSession, list[list[int]]]:
        config = validate_config({"model_name_or_path": str(tiny_model_dir), "template": "qwen", **values})
        loaded = load_for_inference(config, "cpu")
        engine = BatchingEngine(loaded, max_batch_size=1)
        prompts: list[list[int]] = []
        submit = engine.submit

        def spy(request, emit):
            prompts.append(request.prompt_ids)
            return submit(request, emit)

        engine.submit = spy
        engine.start()
        engines.append(engine)
        return ChatSession(
            engine, loaded.template, loaded.tokenizer, SamplingParams(16, do_sample=False)
        ), prompts

    yield make
    for engine in engines:
        engine.close()


def test_answers_stream_and_join_the_history(session_for: Any) -> None:
    session, prompts = session_for(default_system="You are a test.")
    pieces = list(session.reply("hi"))
    assert len(pieces) > 1 and all(pieces)
    assert [(m.role, m.content) for m in session.history] == [("user", "hi"), ("assistant", "".join(pieces))]
    list(session.reply("and then?"))
    text = session.tokenizer.decode(prompts[-1])
    assert text.startswith("<|im_start|>system\nYou are a test.<|im_end|>")
    assert "<|im_start|>user\nhi<|im_end|>" in text and "".join(pieces) in text
    assert text.endswith("<|im_start|>user\nand then?<|im_end|>\n<|im_start|>assistant\n")


def test_clear_forgets_the_conversation(session_for: Any) -> None:
    session, prompts = session_for()
    first = "".join(session.reply("hi"))
    list(session.reply("tell me more"))
    session.clear()
    assert session.history == []
    assert "".join(session.reply("hi")) == first
    assert prompts[-1] == prompts[0]


def test_old_exchanges_give_way_to_the_context(session_for: Any) -> None:
    session, prompts = session_for(model_max_length=96)
    for question in ("first question here", "second question here", "third question here", "fourth"):
        list(session.reply(question))
    assert all(len(prompt) < 96 for prompt in prompts)
    assert "first question" not in session.tokenizer.decode(prompts[-1])
    with pytest.raises(UserError, match="more than the model's context of 96; send a shorter message"):
        list(session.reply("word " * 200))
