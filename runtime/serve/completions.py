"""Chat completions: request → engine sequences → OpenAI response objects and stream chunks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .conversation import encode_prompt, to_conversation
from .engine import Engine, GenerationEvent, GenerationRequest, TokenLogprob
from .errors import APIError, bad_request, clip
from .protocol import ChatCompletionRequest, CompletionRequest, NamedToolChoice
from .sampling import params_from_config
from .settings import ApiSettings
from .tool_calls import FORCED, ToolCall, ToolCallStream, parse_forced_call, parse_tool_calls, stream_for

if TYPE_CHECKING:
    from ..config import TrainConfig
    from ..data.templates import Template
    from .metrics import ServerMetrics


@dataclass
class Prepared:
    """A validated request: its prompt, one engine request per choice, and bookkeeping."""

    request: ChatCompletionRequest | CompletionRequest
    prompt_tokens: int
    sequences: list[GenerationRequest]
    forced_tool: bool = False  # tool_choice required or named: the answer is a JSON call
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))
    started: float = field(default_factory=time.perf_counter)


@dataclass
class ChoiceState:
    text: str = ""
    tokens: int = 0
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] = field(default_factory=list)


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
        settings: ApiSettings | None = None,
    ) -> None:
        self.settings = settings or ApiSettings()
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
            f"model '{clip(model)}' does not exist; this server serves: {', '.join(self.model_names())}",
            param="model",
            code="model_not_found",
        )

    def check_limits(self, request: ChatCompletionRequest | CompletionRequest) -> None:
        """The request limits (API_MAX_*), before any tokenizing."""
        limits = self.settings
        if request.n > limits.max_n:
            raise bad_request(f"n: at most {limits.max_n} choices per request, got {request.n}", "n")
        stops = request.stop_list
        if len(stops) > limits.max_stop:
            raise bad_request(f"stop: at most {limits.max_stop} stop strings, got {len(stops)}", "stop")
        longest = max((len(stop) for stop in stops), default=0)
        if longest > limits.max_stop_chars:
            raise bad_request(
                f"stop: a stop string may have at most {limits.max_stop_chars} characters, got {longest}",
                "stop",
            )
        if isinstance(request, ChatCompletionRequest) and len(request.messages) > limits.max_messages:
            raise bad_request(
                f"messages: at most {limits.max_messages} messages, got {len(request.messages)}", "messages"
            )

    def _check_length(self, characters: int) -> None:
        """Text far longer than any context is refused before it is tokenized (no token of a
        real vocabulary averages 64 characters)."""
        context = self.engine.context_length
        if characters > 64 * context:
            raise bad_request(
                f"the prompt has {characters} characters, far more than this model's context of "
                f"{context} tokens holds; shorten it",
                "messages",
                "context_length_exceeded",
            )

    def _room(self, prompt_tokens: int, wanted: int | None) -> int:
        context = self.engine.context_length
        room = context - prompt_tokens
        if room <= 0:
            raise bad_request(
                f"the messages take {prompt_tokens} tokens but this model's context is {context} tokens; "
                "shorten the conversation",
                "messages",
                "context_length_exceeded",
            )
        if wanted is not None and wanted > room:
            raise bad_request(
                f"max_tokens: {wanted} new tokens plus the {prompt_tokens} prompt tokens exceed this model's "
                f"context of {context} tokens; ask for at most {room}",
                "max_tokens",
                "context_length_exceeded",
            )
        return room

    def prepare(self, request: ChatCompletionRequest) -> Prepared:
        """Validate, render and tokenize a chat request (CPU work: call it off the event loop)."""
        self.check_limits(request)
        adapter = self.adapter_for(request.model)
        self._check_length(sum(len(m.text()) for m in request.messages))
        prompt_ids = encode_prompt(self.template, self.tokenizer, to_conversation(request))
        wanted = request.requested_max_tokens
        room = self._room(len(prompt_ids), wanted)
        schema, forced = self._schema(request)
        params = params_from_config(
            self.config,
            max_new_tokens=wanted or min(self.config.max_new_tokens, room),
            temperature=request.temperature,
            top_p=request.top_p,
            stop=request.stop_list,
        )
        logprobs = (request.top_logprobs or 0) if request.logprobs else None
        sequences = [
            GenerationRequest(
                prompt_ids,
                params,
                adapter,
                seed=None if request.seed is None else request.seed + index,
                logprobs=logprobs,
                json_schema=schema,
            )
            for index in range(request.n)
        ]
        return Prepared(request, len(prompt_ids), sequences, forced_tool=forced)

    def prepare_text(self, request: CompletionRequest) -> Prepared:
        """A /v1/completions request: each prompt as it is (no template), n choices per prompt."""
        self.check_limits(request)
        adapter = self.adapter_for(request.model)
        prompts = request.prompts
        if not prompts:
            raise bad_request("prompt: give at least one prompt", "prompt")
        if len(prompts) * request.n > self.settings.max_n:
            raise bad_request(
                f"prompt: {len(prompts)} prompts × n={request.n} choices exceed the limit of "
                f"{self.settings.max_n} choices per request",
                "prompt",
            )
        if request.echo:
            raise bad_request("echo: not supported by this server; send echo: false", "echo")
        self._check_length(sum(len(p) for p in prompts))
        encoded = [
            self.tokenizer.encode(p, add_special_tokens=True) or [self._fallback_bos()] for p in prompts
        ]
        wanted = request.max_tokens
        room = min(self._room(len(ids), wanted) for ids in encoded)
        params = params_from_config(
            self.config,
            max_new_tokens=wanted or min(self.config.max_new_tokens, room),
            temperature=request.temperature,
            top_p=request.top_p,
            stop=request.stop_list,
        )
        sequences = [
            GenerationRequest(
                ids,
                params,
                adapter,
                seed=None if request.seed is None else request.seed + index,
                logprobs=request.logprobs,
            )
            for ids in encoded
            for index in range(request.n)
        ]
        return Prepared(request, sum(len(ids) for ids in encoded), sequences, id=f"cmpl-{uuid.uuid4().hex}")

    def _fallback_bos(self) -> int:
        token = self.tokenizer.bos_token_id
        return int(token if token is not None else self.tokenizer.eos_token_id or 0)

    def _schema(self, request: ChatCompletionRequest) -> tuple[str | None, bool]:
        """The JSON schema the answer is constrained to (response_format or a forced tool call)."""
        schema: dict[str, Any] | None = None
        forced = False
        choice = request.tool_choice
        if request.tools and (choice == "required" or isinstance(choice, NamedToolChoice)):
            names = [tool.function.name for tool in request.tools]
            if isinstance(choice, NamedToolChoice) and choice.function.name not in names:
                raise bad_request(
                    f"tool_choice: function '{clip(choice.function.name)}' is not among the tools: {', '.join(names)}",
                    "tool_choice",
                )
            calls = [
                {
                    "type": "object",
                    "properties": {
                        "name": {"const": tool.function.name},
                        "arguments": tool.function.parameters or {"type": "object"},
                    },
                    "required": ["name", "arguments"],
                    "additionalProperties": False,
                }
                for tool in request.tools
                if not isinstance(choice, NamedToolChoice) or tool.function.name == choice.function.name
            ]
            schema, forced = (calls[0] if len(calls) == 1 else {"anyOf": calls}), True
        elif choice == "required" or isinstance(choice, NamedToolChoice):
            raise bad_request(
                "tool_choice: a tool must be called but the request has no tools", "tool_choice"
            )
        elif request.response_format is not None and request.response_format.type != "text":
            fmt = request.response_format
            if fmt.type == "json_object":
                schema = {"type": "object"}
            else:
                if fmt.json_schema is None:
                    raise bad_request(
                        "response_format.json_schema: required when type is json_schema",
                        "response_format",
                    )
                schema = fmt.json_schema.schema_ or {"type": "object"}
        if schema is None:
            return None, False
        text = json.dumps(schema)
        try:
            self.engine.json_matcher(text)  # compiles it: a bad schema is the client's error
        except ValueError as err:
            raise bad_request(
                f"response_format: cannot constrain the answer to this schema: {clip(str(err), 300)}",
                "response_format",
            ) from None
        return text, forced

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
        if isinstance(prepared.request, CompletionRequest):
            return self.finish_text(prepared, choices)
        out = []
        for index, choice in enumerate(choices):
            message: dict[str, Any] = {"role": "assistant", "content": choice.text}
            reason = choice.finish_reason
            calls = self.tool_calls(prepared, choice.text)
            if calls is not None:
                content, parsed = calls
                message = {"role": "assistant", "content": content, "tool_calls": _tool_calls(parsed)}
                reason = "tool_calls"
            out.append(
                {
                    "index": index,
                    "message": message,
                    "finish_reason": reason,
                    "logprobs": self.chat_logprobs(prepared, choice.logprobs),
                }
            )
        return {
            "id": prepared.id,
            "object": "chat.completion",
            "created": prepared.created,
            "model": prepared.request.model,
            "choices": out,
            "usage": self.usage(prepared, choices),
        }

    @staticmethod
    def text_envelope(prepared: Prepared) -> dict[str, Any]:
        """The fields every /v1/completions body and chunk starts with."""
        return {
            "id": prepared.id,
            "object": "text_completion",
            "created": prepared.created,
            "model": prepared.request.model,
        }

    def finish_text(self, prepared: Prepared, choices: list[ChoiceState]) -> dict[str, Any]:
        return {
            **self.text_envelope(prepared),
            "choices": [
                {
                    "index": index,
                    "text": choice.text,
                    "finish_reason": choice.finish_reason,
                    "logprobs": self.text_logprobs(prepared, choice.logprobs),
                }
                for index, choice in enumerate(choices)
            ],
            "usage": self.usage(prepared, choices),
        }

    def text_chunk(self, prepared: Prepared, index: int, event: GenerationEvent) -> dict[str, Any]:
        return {
            **self.text_envelope(prepared),
            "choices": [
                {
                    "index": index,
                    "text": event.text,
                    "finish_reason": event.finish_reason,
                    "logprobs": self.text_logprobs(prepared, list(event.logprobs)),
                }
            ],
        }

    @classmethod
    def text_chunk_usage(cls, prepared: Prepared, usage: dict[str, int]) -> dict[str, Any]:
        return {
            **cls.text_envelope(prepared),
            "choices": [],
            "usage": usage,
        }

    def tool_calls(self, prepared: Prepared, text: str) -> tuple[str | None, list[ToolCall]] | None:
        """(content, calls) when the answer is a tool call; None when it is plain text."""
        request = prepared.request
        if not isinstance(request, ChatCompletionRequest) or not request.uses_tools:
            return None
        if prepared.forced_tool:  # cut short by max_tokens: no call, the text as it is
            forced = parse_forced_call(text)
            return (forced.content, forced.tool_calls) if forced.tool_calls else None
        parsed = parse_tool_calls(self.template.tool_format, text)
        return (parsed.content, parsed.tool_calls) if parsed.tool_calls else None

    @staticmethod
    def chat_logprobs(prepared: Prepared, items: list[TokenLogprob]) -> dict[str, Any] | None:
        request = prepared.request
        if not isinstance(request, ChatCompletionRequest) or not request.logprobs:
            return None
        return {
            "content": [
                {
                    "token": item.token,
                    "logprob": item.logprob,
                    "bytes": list(item.token.encode("utf-8", "replace")),
                    "top_logprobs": [
                        {"token": token, "logprob": value, "bytes": list(token.encode("utf-8", "replace"))}
                        for token, value in item.top
                    ],
                }
                for item in items
            ],
            "refusal": None,
        }

    @staticmethod
    def text_logprobs(prepared: Prepared, items: list[TokenLogprob]) -> dict[str, Any] | None:
        request = prepared.request
        if not isinstance(request, CompletionRequest) or request.logprobs is None:
            return None
        offsets, position = [], 0
        for item in items:
            offsets.append(position)
            position += len(item.token)
        return {
            "tokens": [item.token for item in items],
            "token_logprobs": [item.logprob for item in items],
            "top_logprobs": [dict(item.top) for item in items],
            "text_offset": offsets,
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

    def tool_call_stream(self, prepared: Prepared) -> ToolCallStream:
        """A parser that streams the calls of this answer as they come (the same one that parses
        a whole answer, so both agree)."""
        return ToolCallStream(FORCED) if prepared.forced_tool else stream_for(self.template.tool_format)

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
