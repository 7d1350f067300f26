"""The OpenAI-compatible HTTP API: routes, Bearer auth, errors in OpenAI's shape, SSE, metrics.

Imported only by `kubefactory api` (FastAPI is the `serve` extra), never by `--help`.

No client can stall the event loop (which answers /health, the liveness probe): bodies are
limited before they are read, CPU work (rendering, tokenizing, compiling schemas) runs in worker
threads, and a request whose client went away stops generating.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from .completions import ChoiceState, CompletionService, Prepared
from .errors import APIError, clip, validation_message
from .protocol import ChatCompletionRequest, CompletionRequest

if TYPE_CHECKING:
    from .settings import ApiSettings

log = logging.getLogger(__name__)

_ROUTES = frozenset(
    {"/health", "/metrics", "/version", "/v1/models", "/v1/chat/completions", "/v1/completions"}
)
T = TypeVar("T")


def create_app(service: CompletionService, settings: ApiSettings) -> FastAPI:
    metrics = service.metrics
    workers = anyio.CapacityLimiter(2)  # CPU work of requests, beside the engine's thread

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.engine.start()
        try:
            yield
        finally:
            service.engine.close()

    app = FastAPI(title="KubeFactory OpenAI-compatible API", lifespan=lifespan)

    @app.exception_handler(APIError)
    async def api_error(_: Request, err: APIError) -> JSONResponse:
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, err: RequestValidationError) -> JSONResponse:
        message, param = validation_message(list(err.errors()))
        return JSONResponse(APIError(400, message, param=param).body(), status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> JSONResponse:
        kind = "not_found_error" if err.status_code == 404 else "invalid_request_error"
        code = "request_too_large" if err.status_code == 413 else None
        return JSONResponse(
            APIError(err.status_code, clip(str(err.detail), 300), kind, code=code).body(),
            status_code=err.status_code,
        )

    @app.exception_handler(Exception)
    async def server_error(_: Request, err: Exception) -> JSONResponse:
        log.error("unexpected error: %s", err, exc_info=err)
        body = APIError(500, f"internal error: {clip(type(err).__name__)}", "server_error").body()
        return JSONResponse(body, status_code=500)

    app.add_middleware(_Guard, limit=settings.max_body_bytes, metrics=metrics)

    async def authorize(request: Request) -> None:
        if not settings.api_key:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), settings.api_key.encode()
        ):
            raise APIError(
                401,
                "invalid or missing API key: send the header 'Authorization: Bearer <API_KEY>'",
                "authentication_error",
                code="invalid_api_key",
            )

    async def off_loop(work: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(work, *args, limiter=workers)

    @app.get("/health")
    async def health() -> JSONResponse:
        healthy = service.engine.healthy
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable"}, status_code=200 if healthy else 503
        )

    @app.get("/version")
    async def version() -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as package_version

        try:
            current = package_version("kubefactory")
        except PackageNotFoundError:
            current = "unknown"
        return {"version": current, "engine": "huggingface", "threads": _torch_threads()}

    @app.get("/metrics")
    async def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    def model_card(name: str, created: int) -> dict[str, Any]:
        parent = {"parent": service.base_name} if name != service.base_name else {}
        return {"id": name, "object": "model", "created": created, "owned_by": "kubefactory"} | parent

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    async def list_models() -> dict[str, Any]:
        created = int(time.time())
        return {"object": "list", "data": [model_card(name, created) for name in service.model_names()]}

    @app.get("/v1/models/{model_id:path}", dependencies=[Depends(authorize)])
    async def get_model(model_id: str) -> dict[str, Any]:
        service.adapter_for(model_id)  # 404 naming the served models
        return model_card(model_id, int(time.time()))

    async def respond(request: Request, prepared: Prepared) -> JSONResponse | StreamingResponse:
        metrics.prompt_tokens.labels(prepared.request.model).inc(prepared.prompt_tokens)
        if prepared.request.stream:
            stream = _stream_text if isinstance(prepared.request, CompletionRequest) else _stream
            return StreamingResponse(stream(service, prepared), media_type="text/event-stream")
        body = await _unless_disconnected(request, _complete(service, prepared))
        if body is None:
            metrics.requests.labels(prepared.request.model, "abandoned").inc()
            return JSONResponse(APIError(499, "the client closed the connection").body(), status_code=499)
        return JSONResponse(body)

    async def prepared_or_rejected(
        body: ChatCompletionRequest | CompletionRequest, prepare: Callable[[Any], Prepared]
    ) -> Prepared:
        try:
            return await off_loop(prepare, body)
        except APIError:
            # an unknown model name is the client's text: never a label (unbounded series)
            known = body.model if body.model in service.model_names() else "unknown"
            metrics.requests.labels(known, "rejected").inc()
            raise

    @app.post("/v1/chat/completions", dependencies=[Depends(authorize)], response_model=None)
    async def chat_completions(
        body: ChatCompletionRequest, request: Request
    ) -> JSONResponse | StreamingResponse:
        return await respond(request, await prepared_or_rejected(body, service.prepare))

    @app.post("/v1/completions", dependencies=[Depends(authorize)], response_model=None)
    async def completions(body: CompletionRequest, request: Request) -> JSONResponse | StreamingResponse:
        return await respond(request, await prepared_or_rejected(body, service.prepare_text))

    return app


class _BodyTooLarge(HTTPException):
    pass


class _Guard:
    """Pure ASGI middleware: refuses bodies over the limit (by Content-Length before reading any
    of it, or while reading a chunked one) and counts requests by path and status."""

    def __init__(self, app: Any, limit: int, metrics: Any) -> None:
        self.app = app
        self.limit = limit
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        message = (
            f"the request body is larger than this server's limit of {self.limit} bytes (API_MAX_BODY_BYTES)"
        )

        async def counted_send(event: dict[str, Any]) -> None:
            nonlocal status
            if event["type"] == "http.response.start":
                status = event["status"]
            await send(event)

        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge(413, message)
            return event

        try:
            declared = dict(scope.get("headers") or []).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.limit:
                body = json.dumps(APIError(413, message, code="request_too_large").body()).encode()
                await counted_send(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
                    }
                )
                await counted_send({"type": "http.response.body", "body": body})
                return
            await self.app(scope, limited_receive, counted_send)
        finally:
            path = scope.get("path", "")
            label = (
                path if path in _ROUTES else "/v1/models/{id}" if path.startswith("/v1/models/") else "other"
            )
            self.metrics.http_requests.labels(label, str(status)).inc()  # bounded label values


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None once the client has closed the connection (the work is cancelled,
    which stops its sequences in the engine)."""
    task = asyncio.ensure_future(work)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()


async def _complete(service: CompletionService, prepared: Prepared) -> dict[str, Any]:
    metrics = service.metrics
    model = prepared.request.model
    choices = [ChoiceState() for _ in prepared.sequences]
    metrics.in_flight.inc()
    first = True
    try:
        async for index, event in service.events(prepared):
            if first and event.text:
                metrics.ttft.labels(model).observe(time.perf_counter() - prepared.started)
                first = False
            _apply(choices[index], event)
            if event.finish_reason == "error":
                metrics.requests.labels(model, "error").inc()
                raise APIError(500, event.error or "generation failed", "server_error")
    finally:
        metrics.in_flight.dec()
    _record_done(service, prepared, choices)
    return service.finish(prepared, choices)


async def _stream(service: CompletionService, prepared: Prepared) -> AsyncIterator[str]:
    """SSE: a role delta per choice, text deltas as they come, a finish chunk, usage, [DONE]."""
    metrics = service.metrics
    request = prepared.request
    assert isinstance(request, ChatCompletionRequest)
    choices = [ChoiceState() for _ in prepared.sequences]
    call_streams = [service.tool_call_stream(prepared) if request.uses_tools else None for _ in choices]
    metrics.in_flight.inc()
    first = True
    try:
        yield _sse(
            service.chunk(
                prepared, [_delta(i, {"role": "assistant", "content": ""}) for i in range(len(choices))]
            )
        )
        async for index, event in service.events(prepared):
            choice = choices[index]
            _apply(choice, event)
            if event.finish_reason == "error":
                metrics.requests.labels(request.model, "error").inc()
                yield _sse(APIError(500, event.error or "generation failed", "server_error").body())
                break
            if first and event.text:
                metrics.ttft.labels(request.model).observe(time.perf_counter() - prepared.started)
                first = False
            logprobs = service.chat_logprobs(prepared, list(event.logprobs))
            calls = call_streams[index]
            if calls is not None:  # tool calls stream as they are recognised
                deltas = calls.feed(event.text) + (calls.finish() if event.finish_reason else [])
                for delta in deltas:
                    yield _sse(service.chunk(prepared, [_delta(index, delta)]))
                if event.finish_reason:
                    cut = not calls.valid and event.finish_reason == "length"  # a call cut off by max_tokens
                    ended: str = "tool_calls" if calls.calls and not cut else event.finish_reason
                    yield _sse(service.chunk(prepared, [_delta(index, {}, ended)]))
                continue
            if event.text or logprobs:
                yield _sse(service.chunk(prepared, [_delta(index, {"content": event.text}, None, logprobs)]))
            if event.finish_reason:
                yield _sse(service.chunk(prepared, [_delta(index, {}, event.finish_reason)]))
        else:
            _record_done(service, prepared, choices)
            if request.stream_options and request.stream_options.include_usage:
                yield _sse(service.chunk(prepared, [], service.usage(prepared, choices)))
        yield "data: [DONE]\n\n"
    finally:
        metrics.in_flight.dec()


async def _stream_text(service: CompletionService, prepared: Prepared) -> AsyncIterator[str]:
    """SSE of /v1/completions: text deltas per choice, usage when asked, [DONE]."""
    metrics = service.metrics
    request = prepared.request
    choices = [ChoiceState() for _ in prepared.sequences]
    metrics.in_flight.inc()
    try:
        async for index, event in service.events(prepared):
            _apply(choices[index], event)
            if event.finish_reason == "error":
                metrics.requests.labels(request.model, "error").inc()
                yield _sse(APIError(500, event.error or "generation failed", "server_error").body())
                break
            yield _sse(service.text_chunk(prepared, index, event))
        else:
            _record_done(service, prepared, choices)
            if request.stream_options and request.stream_options.include_usage:
                usage = service.usage(prepared, choices)
                yield _sse(service.text_chunk_usage(prepared, usage))
        yield "data: [DONE]\n\n"
    finally:
        metrics.in_flight.dec()


def _torch_threads() -> int | None:
    import sys

    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


def _apply(choice: ChoiceState, event: Any) -> None:
    choice.text += event.text
    choice.tokens = event.completion_tokens
    choice.logprobs += event.logprobs
    if event.finish_reason:
        choice.finish_reason = event.finish_reason


def _record_done(service: CompletionService, prepared: Prepared, choices: list[ChoiceState]) -> None:
    metrics = service.metrics
    model = prepared.request.model
    metrics.requests.labels(model, "ok").inc()
    metrics.completion_tokens.labels(model).inc(sum(c.tokens for c in choices))
    metrics.latency.labels(model).observe(time.perf_counter() - prepared.started)


def _delta(
    index: int, delta: dict[str, Any], finish_reason: str | None = None, logprobs: Any = None
) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": logprobs}


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
