"""The Starlette app of the embedded server: EGP and OpenAI-compatible chat completions.

Routes
------
``POST /egp/v1/chat-completions``
    EGP / Spellbook wire format (PROTOCOL.md §2), auth header ``x-api-key``.
``POST /v1/chat/completions``
    OpenAI wire format (PROTOCOL.md §3), auth ``Authorization: Bearer KEY`` or ``x-api-key``.
``GET /v1/models``
    Lists the model ``demo``.
``GET /``
    A short JSON description.

Per-request options and fault modes are described in `nbchat.server.faults`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from nbchat.server import faults, schema
from nbchat.server.demo_model import Reply, generate
from nbchat.server.wire import EgpWire, JSONBody, OpenAIWire, Wire

__all__ = ["EGP_PATH", "MAX_BODY_BYTES", "OPENAI_PATH", "ConnectionDropped", "create_app"]

EGP_PATH = "/egp/v1/chat-completions"
OPENAI_PATH = "/v1/chat/completions"
MAX_BODY_BYTES = 1024 * 1024
SSE_TYPE = "text/event-stream; charset=utf-8"
RequestLog = list[dict[str, Any]]


class ConnectionDropped(Exception):
    """Raised inside a response body to abort the connection (fault ``drop``)."""


class _BodyTooLarge(Exception):
    pass


class _QuietDrops(logging.Filter):
    """Hide uvicorn's traceback for deliberate `ConnectionDropped` aborts."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not _is_drop(exc)


def _is_drop(exc: BaseException | None) -> bool:
    if isinstance(exc, ConnectionDropped):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_drop(e) for e in exc.exceptions)
    return False


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


async def _read_body(request: Request) -> bytes:
    """Read at most `MAX_BODY_BYTES`, checking Content-Length first."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _ChatHandler:
    """Shared request flow of both chat endpoints."""

    def __init__(self, api_key: str | None, tokens_per_second: float, log: RequestLog) -> None:
        self.api_key = api_key
        self.tokens_per_second = tokens_per_second
        self.log = log
        self.counter = faults.FaultCounter()
        self.ids = itertools.count(1)

    # ----------------------------------------------------------------- errors
    @staticmethod
    def error(api: str, status: int, message: str, kind: str, code: str | None = None) -> Response:
        if api == "egp":
            return JSONBody({"detail": message}, status_code=status)
        return JSONBody(faults.openai_error(message, kind, code), status_code=status)

    @staticmethod
    def invalid(api: str, errors: list[schema.FieldError]) -> Response:
        if api == "egp":
            detail = [{"loc": ["body", *e.loc], "msg": e.msg, "type": e.type} for e in errors]
            return JSONBody({"detail": detail}, status_code=422)
        first = errors[0]
        param = schema.openai_param(first.loc) if first.loc else None
        message = str(schema.RequestInvalid(errors))
        body = faults.openai_error(message, "invalid_request_error", None, param)
        return JSONBody(body, status_code=400)

    def check_key(self, api: str, request: Request) -> Response | None:
        if self.api_key is None:
            return None
        sent = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if sent is None and api == "openai" and auth.lower().startswith("bearer "):
            sent = auth[7:].strip()
        if sent is None:
            header = "x-api-key" if api == "egp" else "Authorization: Bearer"
            message = f"Missing API key: send it in the {header} header."
            return self.error(api, 401, message, "invalid_request_error", "invalid_api_key")
        if not hmac.compare_digest(sent.encode(), self.api_key.encode()):
            return self.error(
                api, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        return None

    # ----------------------------------------------------------------- flow
    async def handle(self, api: str, request: Request) -> Response:
        denied = self.check_key(api, request)
        if denied is not None:
            return denied
        try:
            raw = await _read_body(request)
        except _BodyTooLarge:
            limit = f"Request body too large: the limit is {MAX_BODY_BYTES} bytes."
            return self.error(api, 413, limit, "invalid_request_error", "request_too_large")
        try:
            body = schema.parse_json(raw)
            chat = schema.parse_egp(body) if api == "egp" else schema.parse_openai(body)
            options = faults.parse_options(chat.model, request.headers.get("x-nbchat-fault"))
        except schema.RequestInvalid as exc:
            return self.invalid(api, exc.errors)
        except faults.OptionError as exc:
            return self.invalid(api, [schema.FieldError(("model",), str(exc), "value_error")])
        fault = options.fault
        if fault is not None:
            key = f"{chat.model}\n{request.headers.get('x-nbchat-fault', '')}"
            if not self.counter.active(key, options.times):
                fault = None
        self.log.append(
            {"path": request.url.path, "api": api, "model": chat.model, "stream": chat.stream,
             "fault": fault}
        )  # fmt: skip
        return await self.respond(api, chat, options, fault)

    async def respond(
        self, api: str, chat: schema.ChatRequest, options: faults.RequestOptions, fault: str | None
    ) -> Response:
        if fault == "stall":
            await asyncio.sleep(options.stall)
            fault = None
        if fault in faults.STATUS_FAULTS:
            return faults.fault_response(api, options)
        reply = generate(
            chat.messages,
            model=options.model,
            max_tokens=chat.max_tokens,
            stop=chat.stop,
            chunks=options.chunks,
        )
        if options.split:
            reply = _split(reply, options.split)
        wire: Wire
        if api == "egp":
            wire = EgpWire(reply, options.model)
        else:
            ident = f"chatcmpl-demo{next(self.ids)}"
            wire = OpenAIWire(reply, options.model, ident, int(time.time()), chat.include_usage)
        if fault == "empty":
            return Response(b"", media_type=SSE_TYPE if chat.stream else "application/json")
        if not chat.stream or fault == "json":
            return await self.sync(wire, options, fault)
        tps = self.tokens_per_second if options.tps is None else options.tps
        return StreamingResponse(
            _stream(api, wire, options, fault, tps),
            media_type=SSE_TYPE,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def sync(self, wire: Wire, options: faults.RequestOptions, fault: str | None) -> Response:
        if options.ttft:
            await asyncio.sleep(options.ttft)
        if fault == "stall-mid":
            await asyncio.sleep(options.stall)
        response = JSONBody(wire.sync_body())
        body = bytes(response.body)
        if fault == "malformed":
            return Response(body[: len(body) // 2], media_type="application/json")
        if fault == "drop":
            return StreamingResponse(_half_then_drop(body), media_type="application/json")
        return response


def _split(reply: Reply, size: int) -> Reply:
    """The same reply cut into pieces of exactly `size` characters (option ``split``)."""
    text = reply.text
    pieces = tuple(text[i : i + size] for i in range(0, len(text), size))
    return dataclasses.replace(reply, pieces=pieces)


async def _half_then_drop(body: bytes) -> AsyncIterator[bytes]:
    yield body[: len(body) // 2]
    await asyncio.sleep(0.05)
    raise ConnectionDropped("fault=drop")


async def _stream(
    api: str, wire: Wire, options: faults.RequestOptions, fault: str | None, tps: float
) -> AsyncIterator[bytes]:
    """Yield the SSE events of a stream, injecting a mid-stream fault if requested."""
    delay = 1.0 / tps if tps > 0 else 0.0
    loop = asyncio.get_running_loop()
    if options.ttft:
        await asyncio.sleep(options.ttft)
    # Paced against a schedule, not a fixed sleep after each event, so the time spent
    # sending does not slow the stream below ``tps``.
    next_t = loop.time()
    for event in wire.head():
        yield event
    count = len(wire.reply.pieces)
    trigger = min(options.after, count) if fault else -1
    for index in range(count + 1):
        if index == trigger:
            if fault == "malformed":
                yield b'data: {"chat_completion": {"message": {"content": "oops"\n\n'
            elif fault == "stall-mid":
                await asyncio.sleep(options.stall)
                next_t = loop.time()
            elif fault == "drop":
                event = wire.piece(index) if index < count else wire.tail()[0]
                yield event[: len(event) // 2]
                await asyncio.sleep(0.05)  # let the half event reach the client first
                raise ConnectionDropped("fault=drop")
            elif fault in ("error-event", "event-error", "error-field"):
                yield faults.error_event(api, fault)
                return
        if index == count:
            break
        yield wire.piece(index)
        if delay:
            # Fall behind by at most one event: never burst to catch up.
            next_t = max(next_t + delay, loop.time() - delay)
            await asyncio.sleep(max(0.0, next_t - loop.time()))
        elif index % 64 == 63:
            # Let the event loop notice a client that hung up (Starlette then cancels this
            # generator) instead of writing a fast stream into a closed socket.
            await asyncio.sleep(0)
    for event in wire.tail():
        yield event


def create_app(
    api_key: str | None = None,
    tokens_per_second: float = 40.0,
    log: RequestLog | None = None,
) -> Starlette:
    """Create the embedded chat-completions app.

    Parameters
    ----------
    api_key : str, optional
        When set, requests must send this key (``x-api-key`` or ``Authorization: Bearer``);
        otherwise any key or none is accepted.
    tokens_per_second : float
        Default streaming speed; ``0`` streams without delay. ``tps=`` overrides it.
    log : list, optional
        Receives one ``{"path", "api", "model", "stream", "fault"}`` dict per chat request
        (never headers or keys).

    Returns
    -------
    starlette.applications.Starlette
        The ASGI app.
    """
    _install_log_filter()
    handler = _ChatHandler(api_key, tokens_per_second, [] if log is None else log)

    def endpoint(api: str) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            return await handler.handle(api, request)

        return run

    async def index(request: Request) -> Response:
        return JSONBody(
            {
                "name": "nbchat embedded server",
                "description": "Offline deterministic demo model with EGP and OpenAI APIs.",
                "endpoints": {"egp": EGP_PATH, "openai": OPENAI_PATH, "models": "/v1/models"},
                "models": ["demo", "echo", "bench"],
                "auth": "required" if api_key else "any key or none",
            }
        )

    async def models(request: Request) -> Response:
        card = {"id": "demo", "object": "model", "created": 0, "owned_by": "nbchat"}
        return JSONBody({"object": "list", "data": [card]})

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        headers = exc.headers if isinstance(exc, HTTPException) else None
        reason = {404: "Not found", 405: "Method not allowed"}.get(status, "Server error")
        message = f"{reason}: {request.method} {request.url.path}"
        body: object = {"detail": message}
        if request.url.path.startswith("/v1/"):
            body = faults.openai_error(message, "invalid_request_error", None)
        return JSONBody(body, status_code=status, headers=headers)

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route(EGP_PATH, endpoint("egp"), methods=["POST"]),
        Route(OPENAI_PATH, endpoint("openai"), methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
