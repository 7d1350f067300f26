"""The OpenAI-compatible HTTP API: routes, Bearer auth, errors in OpenAI's shape, SSE, metrics.

Imported only by `kubefactory api` (FastAPI is the `serve` extra), never by `--help`.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from .completions import ChoiceState, CompletionService, Prepared
from .errors import APIError, validation_message
from .protocol import ChatCompletionRequest

if TYPE_CHECKING:
    from .settings import ApiSettings


_ROUTES = frozenset({"/health", "/metrics", "/v1/models", "/v1/chat/completions"})


def create_app(service: CompletionService, settings: ApiSettings) -> FastAPI:
    metrics = service.metrics

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
        return JSONResponse(
            APIError(err.status_code, str(err.detail), kind).body(), status_code=err.status_code
        )

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        path = request.url.path if request.url.path in _ROUTES else "other"  # bounded label values
        metrics.http_requests.labels(path, str(response.status_code)).inc()
        return response

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

    @app.get("/health")
    async def health() -> JSONResponse:
        healthy = service.engine.healthy
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable"}, status_code=200 if healthy else 503
        )

    @app.get("/metrics")
    async def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    async def list_models() -> dict[str, Any]:
        created = int(time.time())
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": "kubefactory"}
            | ({"parent": service.base_name} if name != service.base_name else {})
            for name in service.model_names()
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", dependencies=[Depends(authorize)], response_model=None)
    async def chat_completions(body: ChatCompletionRequest) -> JSONResponse | StreamingResponse:
        try:
            prepared = service.prepare(body)
        except APIError:
            # an unknown model name is the client's text: never a label (unbounded series)
            known = body.model if body.model in service.model_names() else "unknown"
            metrics.requests.labels(known, "rejected").inc()
            raise
        metrics.prompt_tokens.labels(body.model).inc(prepared.prompt_tokens)
        if body.stream:
            return StreamingResponse(_stream(service, prepared), media_type="text/event-stream")
        return JSONResponse(await _complete(service, prepared))

    return app


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
    choices = [ChoiceState() for _ in prepared.sequences]
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
            if request.uses_tools:  # tool calls can only be recognised in the whole answer
                if event.finish_reason:
                    delta, reason = service.tool_call_delta(choice)
                    yield _sse(service.chunk(prepared, [_delta(index, delta, reason)]))
                continue
            if event.text:
                yield _sse(service.chunk(prepared, [_delta(index, {"content": event.text})]))
            if event.finish_reason:
                yield _sse(service.chunk(prepared, [_delta(index, {}, event.finish_reason)]))
        else:
            _record_done(service, prepared, choices)
            if request.stream_options and request.stream_options.include_usage:
                yield _sse(service.chunk(prepared, [], service.usage(prepared, choices)))
        yield "data: [DONE]\n\n"
    finally:
        metrics.in_flight.dec()


def _apply(choice: ChoiceState, event: Any) -> None:
    choice.text += event.text
    choice.tokens = event.completion_tokens
    if event.finish_reason:
        choice.finish_reason = event.finish_reason


def _record_done(service: CompletionService, prepared: Prepared, choices: list[ChoiceState]) -> None:
    metrics = service.metrics
    model = prepared.request.model
    metrics.requests.labels(model, "ok").inc()
    metrics.completion_tokens.labels(model).inc(sum(c.tokens for c in choices))
    metrics.latency.labels(model).observe(time.perf_counter() - prepared.started)


def _delta(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": None}


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
