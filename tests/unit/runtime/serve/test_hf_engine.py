"""The batching engine: same tokens as one-at-a-time generation, real batches, per-row settings."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.data.example import Message
from kubefactory.runtime.model.inference import InferenceModel, load_for_inference
from kubefactory.runtime.serve.conversation import Conversation, encode_prompt
from kubefactory.runtime.serve.engine import GenerationEvent, GenerationRequest
from kubefactory.runtime.serve.hf_engine import BatchingEngine, UnknownAdapterError
from kubefactory.runtime.serve.sampling import SamplingParams

QUESTIONS = [
    "hi",
    "Who are you? Tell me a long story about a fox.",
    "hello",
    "What is the capital of France and why?",
]
GREEDY = SamplingParams(max_new_tokens=20, do_sample=False)


def _load(model: Path, **values: Any) -> InferenceModel:
    return load_for_inference(
        validate_config({"model_name_or_path": str(model), "template": "qwen", **values}), "cpu"
    )


def _prompt(loaded: InferenceModel, question: str) -> list[int]:
    return encode_prompt(loaded.template, loaded.tokenizer, Conversation("", "", [Message("user", question)]))


class Collector:
    """Gathers the events of several sequences; waits for all of them to finish."""

    def __init__(self, count: int) -> None:
        self.events: list[list[GenerationEvent]] = [[] for _ in range(count)]
        self._left = threading.Semaphore(0)

    def emit(self, index: int) -> Any:
        def emit(event: GenerationEvent) -> None:
            self.events[index].append(event)
            if event.finish_reason:
                self._left.release()

        return emit

    def wait(self, count: int | None = None, timeout: float = 120) -> None:
        for _ in range(count if count is not None else len(self.events)):
            assert self._left.acquire(timeout=timeout), "a sequence never finished"

    def text(self, index: int) -> str:
        return "".join(event.text for event in self.events[index])

    def last(self, index: int) -> GenerationEvent:
        return self.events[index][-1]


def _reference(
    model: Any, loaded: InferenceModel, prompt: list[int], stop_ids: frozenset[int], new_tokens: int
) -> str:
    out = model.generate(
        torch.tensor([prompt]),
        max_new_tokens=new_tokens,
        do_sample=False,
        eos_token_id=sorted(stop_ids),
        pad_token_id=0,
    )
    return str(loaded.tokenizer.decode(out[0, len(prompt) :], skip_special_tokens=True))


@pytest.fixture(scope="module")
def loaded(tiny_model_dir: Path) -> InferenceModel:
    return _load(tiny_model_dir)


def test_batched_greedy_output_equals_one_at_a_time_generation(loaded: InferenceModel) -> None:
    engine = BatchingEngine(loaded)
    expected = [
        _reference(loaded.model, loaded, _prompt(loaded, q), engine.stop_token_ids, 20) for q in QUESTIONS
    ]
    collector = Collector(len(QUESTIONS))
    engine.start()
    try:
        for index, question in enumerate(QUESTIONS):  # staggered: later ones join a running batch
            engine.submit(GenerationRequest(_prompt(loaded, question), GREEDY), collector.emit(index))
            time.sleep(0.03)
        collector.wait()
    finally:
        engine.close()
    assert [collector.text(i) for i in range(len(QUESTIONS))] == expected
    assert all(text for text in expected)


def test_concurrent_requests_share_decoding_steps(loaded: InferenceModel) -> None:
    sizes: list[int] = []
    engine = BatchingEngine(loaded, on_step=sizes.append)
    collector = Collector(8)
    params = SamplingParams(max_new_tokens=16, temperature=1.0, top_p=1.0)
    for index in range(8):  # all waiting before the engine starts: one prefill admits them together
        engine.submit(GenerationRequest(_prompt(loaded, QUESTIONS[index % 4]), params), collector.emit(index))
    engine.start()
    try:
        collector.wait()
    finally:
        engine.close()
    generated = sum(collector.last(i).completion_tokens for i in range(8))
    assert max(sizes) == 8
    # one step per token position, not per token: sequential serving would need `generated` steps
    assert len(sizes) <= 16 and generated > 3 * len(sizes), (sizes, generated)


def test_max_new_tokens_ends_with_length(loaded: InferenceModel) -> None:
    engine = BatchingEngine(loaded)
    collector = Collector(1)
    engine.start()
    try:
        engine.submit(
            GenerationRequest(_prompt(loaded, "hi"), SamplingParams(5, do_sample=False)), collector.emit(0)
        )
        collector.wait()
    finally:
        engine.close()
    assert collector.last(0).finish_reason == "length"
    assert collector.last(0).completion_tokens == 5


def test_stop_string_cuts_the_text(loaded: InferenceModel) -> None:
    engine = BatchingEngine(loaded)
    prompt = _prompt(loaded, QUESTIONS[1])
    free = _reference(loaded.model, loaded, prompt, engine.stop_token_ids, 20)
    stop = free[8:12]
    assert len(stop) == 4 and stop.strip(), free
    collector = Collector(1)
    engine.start()
    try:
        engine.submit(
            GenerationRequest(prompt, SamplingParams(20, do_sample=False, stop=(stop,))), collector.emit(0)
        )
        collector.wait()
    finally:
        engine.close()
    assert collector.text(0) == free[: free.index(stop)]
    assert collector.last(0).finish_reason == "stop"


def test_context_length_bounds_generation(tiny_model_dir: Path) -> None:
    small = _load(tiny_model_dir, model_max_length=48)
    prompt = _prompt(small, "hi")
    engine = BatchingEngine(small)
    collector = Collector(1)
    engine.start()
    try:
        engine.submit(GenerationRequest(prompt, SamplingParams(500, do_sample=False)), collector.emit(0))
        collector.wait()
    finally:
        engine.close()
    last = collector.last(0)
    assert last.finish_reason in ("length", "stop")
    assert len(prompt) + last.completion_tokens <= 48


def test_a_cancelled_sequence_stops_and_the_others_finish(loaded: InferenceModel) -> None:
    engine = BatchingEngine(loaded)
    collector = Collector(2)
    long = SamplingParams(200, temperature=1.0, top_p=1.0)
    engine.start()
    try:
        cancelled = engine.submit(GenerationRequest(_prompt(loaded, "hi"), long), collector.emit(0))
        engine.submit(
            GenerationRequest(_prompt(loaded, "hello"), SamplingParams(30, do_sample=False)),
            collector.emit(1),
        )
        time.sleep(0.1)
        cancelled.cancel()
        collector.wait(count=1)
        time.sleep(0.2)
    finally:
        engine.close()
    assert collector.last(1).finish_reason is not None
    assert not any(event.finish_reason for event in collector.events[0])
    assert len(collector.events[0]) < 200


def test_each_row_uses_its_own_adapter(tiny_model_dir: Path, tmp_path: Path, random_adapter: Any) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    first = random_adapter(tiny_model_dir, tmp_path / "first", seed=1)
    second = random_adapter(tiny_model_dir, tmp_path / "second", seed=2)
    loaded = _load(tiny_model_dir, adapter_name_or_path=f"first={first},second={second}")
    assert loaded.adapters == ("first", "second")
    engine = BatchingEngine(loaded)
    prompt = _prompt(loaded, QUESTIONS[3])
    expected = {}
    for name, folder in (("first", first), ("second", second), (None, None)):
        model: Any = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        model = PeftModel.from_pretrained(model, folder) if folder else model
        expected[name] = _reference(model.eval(), loaded, prompt, engine.stop_token_ids, 20)
    assert len(set(expected.values())) == 3, (
        "the adapters must change the output for this test to mean anything"
    )

    collector = Collector(3)
    names = ["first", None, "second"]
    for index, name in enumerate(names):  # queued together: one mixed-adapter batch
        engine.submit(GenerationRequest(prompt, GREEDY, adapter=name), collector.emit(index))
    engine.start()
    try:
        collector.wait()
    finally:
        engine.close()
    assert [collector.text(i) for i in range(3)] == [expected[name] for name in names]
    with pytest.raises(
        UnknownAdapterError, match="adapter 'third' is not loaded; loaded: \\['first', 'second'\\]"
    ):
        engine.submit(GenerationRequest(prompt, GREEDY, adapter="third"), collector.emit(0))


def test_special_tokens_are_hidden_except_tool_call_and_thought_words(loaded: InferenceModel) -> None:
    from kubefactory.runtime.serve.hf_engine import hidden_token_ids

    hidden = hidden_token_ids(loaded)
    ids = loaded.tokenizer.convert_tokens_to_ids
    assert {ids("<|endoftext|>"), ids("<|im_start|>"), ids("<|im_end|>")} <= hidden
    assert not {ids("<tool_call>"), ids("</tool_call>"), ids("<think>"), ids("</think>")} & hidden
