"""Chat completions: request → engine sequences → OpenAI response objects and stream chunks."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .conversation import encode_prompt, to_conversation
from .engine import Engine, GenerationEvent, GenerationRequest
from .errors import APIError, bad_request
from .protocol import ChatCompletionRequest
from .sampling import params_from_config
from .tool_calls import parse_tool_calls

if TYPE_CHECKING:
    from ..config import TrainConfig
    from ..data.templates import Template
    from .metrics import ServerMetrics


@dataclass
class Prepared:
    """A validated request: its prompt, one engine request per choice, and bookkeeping."""

    request: ChatCompletionRequest
    prompt_tokens: int
    sequences: list[GenerationRequest]
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))
    started: float = field(default_factory=time.perf_counter)


@dataclass
class ChoiceState:
    text: str = ""
    tokens: int = 0
    finish_reason: str | None = None


class CompletionService:
    """Everything the HTTP layer needs from the model side, with no HTTP in it."""

    def __init__(
        self,
        engine: Engine,
        template: Template,
        tokenizer: Any,
        config: TrainConfig,
        base_name: str,
        metrics: ServerMetrics,
    ) -> None:
        self.engine = engine
        self.template = template
        self.tokenizer = tokenizer
        self.config = config
        self.base_name = base_name
        self.metrics = metrics

    def model_names(self) -> list[str]:
        return [self.base_name, *self.engine.adapters]

    def adapter_for(self, model: str) -> str | None:
        if model == self.base_name:
            return None
        if model in self.engine.adapters:
            return model
        raise APIError(
            404,
            f"model '{model}' does not exist; this server serves: {', '.join(self.model_names())}",
            param="model",
            code="model_not_found",
        )

    def prepare(self, request: ChatCompletionRequest) -> Prepared:
        adapter = self.adapter_for(request.model)
        prompt_ids = encode_prompt(self.template, self.tokenizer, to_conversation(request))
        context = self.engine.context_length
        room = context - len(prompt_ids)
        if room <= 0:
            raise bad_request(
                f"the messages take {len(prompt_ids)} tokens but this model's context is {context} tokens; "
                "shorten the conversation",
                "messages",
                "context_length_exceeded",
            )
        wanted = request.requested_max_tokens
        if wanted is not None and wanted > room:
            raise bad_request(
                f"max_tokens: {wanted} new tokens plus the {len(prompt_ids)} prompt tokens exceed this model's "
                f"context of {context} tokens; ask for at most {room}",
                "max_tokens",
                "context_length_exceeded",
            )
        params = params_from_config(
            self.config,
            max_new_tokens=wanted or min(self.config.max_new_tokens, room),
            temperature=request.temperature,
            top_p=request.top_p,
            stop=request.stop_list,
        )
        sequence = GenerationRequest(prompt_ids, params, adapter)
        return Prepared(request, len(prompt_ids), [sequence] * request.n)

    async def events(self, prepared: Prepared) -> AsyncIterator[tuple[int, GenerationEvent]]:
        """(choice index, event) as the engine produces them; stops the sequences when abandoned."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int, GenerationEvent]] = asyncio.Queue()

        def emitter(index: int) -> Any:
            def emit(event: GenerationEvent) -> None:
                # RuntimeError: the event loop is gone, nobody is listening any more
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(queue.put_nowait, (index, event))

            return emit

        handles = [self.engine.submit(seq, emitter(i)) for i, seq in enumerate(prepared.sequences)]
        remaining = len(handles)
        try:
            while remaining:
                index, event = await queue.get()
                remaining -= event.finish_reason is not None
                yield index, event
        finally:
            for handle in handles:
                handle.cancel()

    # -- responses ------------------------------------------------------------------------------

    def finish(self, prepared: Prepared, choices: list[ChoiceState]) -> dict[str, Any]:
        """The non-streaming response."""
        out = []
        for index, choice in enumerate(choices):
            message: dict[str, Any] = {"role": "assistant", "content": choice.text}
            reason = choice.finish_reason
            if prepared.request.uses_tools:
                parsed = parse_tool_calls(self.template.tool_format, choice.text)
                if parsed.tool_calls:
                    message = {
                        "role": "assistant",
                        "content": parsed.content,
                        "tool_calls": _tool_calls(parsed.tool_calls),
                    }
                    reason = "tool_calls"
            out.append({"index": index, "message": message, "finish_reason": reason, "logprobs": None})
        return {
            "id": prepared.id,
            "object": "chat.completion",
            "created": prepared.created,
            "model": prepared.request.model,
            "choices": out,
            "usage": self.usage(prepared, choices),
        }

    def chunk(
        self, prepared: Prepared, choices: list[dict[str, Any]], usage: dict[str, int] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": prepared.id,
            "object": "chat.completion.chunk",
            "created": prepared.created,
            "model": prepared.request.model,
            "choices": choices,
        }
        if usage is not None:
            body["usage"] = usage
        return body

    def tool_call_delta(self, choice: ChoiceState) -> tuple[dict[str, Any], str | None]:
        """For streams with tools: the whole answer as one delta, either tool calls or content."""
        parsed = parse_tool_calls(self.template.tool_format, choice.text)
        if not parsed.tool_calls:
            return {"content": choice.text}, choice.finish_reason
        calls = [{"index": i, **call} for i, call in enumerate(_tool_calls(parsed.tool_calls))]
        delta: dict[str, Any] = {"tool_calls": calls}
        if parsed.content:
            delta["content"] = parsed.content
        return delta, "tool_calls"

    @staticmethod
    def usage(prepared: Prepared, choices: list[ChoiceState]) -> dict[str, int]:
        completion = sum(choice.tokens for choice in choices)
        return {
            "prompt_tokens": prepared.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prepared.prompt_tokens + completion,
        }


def _tool_calls(calls: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": c.name, "arguments": c.arguments},
        }
        for c in calls
    ]
