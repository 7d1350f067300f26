"""A conversation with history over an engine: what the terminal chat drives, free of any I/O."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..data.example import Message
from ..errors import UserError
from ..serve.conversation import Conversation, encode_prompt
from ..serve.engine import Engine, GenerationEvent, GenerationRequest

if TYPE_CHECKING:
    from ..data.templates import Template
    from ..serve.sampling import SamplingParams


class ChatSession:
    def __init__(self, engine: Engine, template: Template, tokenizer: Any, params: SamplingParams) -> None:
        self.engine = engine
        self.template = template
        self.tokenizer = tokenizer
        self.params = params
        self.history: list[Message] = []

    def clear(self) -> None:
        self.history = []

    def reply(self, text: str) -> Iterator[str]:
        """Stream the answer to `text` piece by piece; the exchange joins the history when complete."""
        turn = Message("user", text)
        prompt = self._prompt(turn)
        events: queue.Queue[GenerationEvent] = queue.Queue()
        room = self.engine.context_length - len(prompt)
        params = self.params if self.params.max_new_tokens <= room else _with_max(self.params, room)
        handle = self.engine.submit(GenerationRequest(prompt, params), events.put)
        answer = ""
        try:
            while True:
                event = events.get()
                if event.finish_reason == "error":
                    raise RuntimeError(event.error or "generation failed")
                if event.text:
                    answer += event.text
                    yield event.text
                if event.finish_reason is not None:
                    break
        finally:
            handle.cancel()  # also when the caller stops early (Ctrl-C): the engine drops the sequence
        self.history += [turn, Message("assistant", answer)]

    def _prompt(self, turn: Message) -> list[int]:
        """Prompt ids of the history plus `turn`; the oldest exchanges go first when it is too long."""
        history = list(self.history)
        while True:
            prompt = encode_prompt(self.template, self.tokenizer, Conversation("", "", [*history, turn]))
            if len(prompt) < self.engine.context_length:
                return prompt
            if not history:
                raise UserError(
                    f"the message takes {len(prompt)} tokens, more than the model's context of "
                    f"{self.engine.context_length}; send a shorter message"
                )
            history = history[2:]


def _with_max(params: SamplingParams, max_new_tokens: int) -> SamplingParams:
    from dataclasses import replace

    return replace(params, max_new_tokens=max_new_tokens)
