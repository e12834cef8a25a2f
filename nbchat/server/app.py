"""The Starlette app of the embedded server: EGP and OpenAI-compatible chat completions.

Routes
------
``POST /egp/v1/chat-completions``
    EGP / Spellbook wire format (PROTOCOL.md §2), auth header ``x-api-key``.
``POST /v1/chat/completions``
    OpenAI wire format (PROTOCOL.md §3), auth ``Authorization: Bearer KEY`` or ``x-api-key``.
``GET /v1/models``
    OpenAI model list: ``{"object": "list", "data": [{"id", "object": "model", ...}]}``.
``GET /egp/v1/models``
    The same models in an EGP-style page: ``{"items": [{"id", "name", ...}], ...}``.
``GET /stats``
    Request counts (see `request_stats`).
``GET /``
    A short JSON description.

Every route sits behind `nbchat.server.guard.Guard` (Host check, API key, JSON content type,
request rate).

Per-request options and fault modes are described in `nbchat.server.faults`.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from nbchat.server import faults, guard, schema
from nbchat.server.demo_model import generate
from nbchat.server.protocol import HEAD_TIMEOUT_S
from nbchat.server.stats import messages_digest, request_stats
from nbchat.server.streaming import (
    SSE_TYPE,
    ConnectionDropped,
    half_then_drop,
    install_log_filter,
    split_reply,
    stream_events,
)
from nbchat.server.wire import EgpWire, JSONBody, OpenAIWire, Wire

__all__ = [
    "DEMO_MODELS",
    "EGP_MODELS_PATH",
    "EGP_PATH",
    "MAX_BODY_BYTES",
    "OPENAI_MODELS_PATH",
    "OPENAI_PATH",
    "ConnectionDropped",
    "create_app",
    "guarded_app",
    "messages_digest",
    "request_stats",
]

EGP_PATH = "/egp/v1/chat-completions"
OPENAI_PATH = "/v1/chat/completions"
OPENAI_MODELS_PATH = "/v1/models"
EGP_MODELS_PATH = "/egp/v1/models"
MAX_BODY_BYTES = 1024 * 1024
DEMO_MODELS = ("demo", "echo", "bench")
"""The models of the demo server (any other name is answered by ``demo``)."""
RequestLog = list[dict[str, Any]]


class _BodyTooLarge(Exception):
    pass


class _BodyTimeout(Exception):
    pass


async def _read_body(request: Request, timeout: float = HEAD_TIMEOUT_S) -> bytes:
    """Read at most `MAX_BODY_BYTES` within `timeout` seconds, checking Content-Length first."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _BodyTooLarge
                chunks.append(chunk)
    except TimeoutError:
        raise _BodyTimeout from None
    return b"".join(chunks)


async def read_body(api: str, request: Request, timeout: float) -> bytes | Response:
    """The request body, or the 413/408 error response of each API."""
    try:
        return await _read_body(request, timeout)
    except _BodyTooLarge:
        limit = f"Request body too large: the limit is {MAX_BODY_BYTES} bytes."
        return guard.error_response(
            api, 413, limit, "invalid_request_error", "request_too_large", _CLOSE
        )
    except _BodyTimeout:
        message = f"Request body timeout: the body did not arrive within {timeout:g} s."
        return guard.error_response(
            api, 408, message, "invalid_request_error", "request_timeout", _CLOSE
        )


# The rest of the body was never read: the connection cannot carry another request.
_CLOSE = {"connection": "close"}


class _ChatHandler:
    """Shared request flow of both chat endpoints."""

    def __init__(self, tokens_per_second: float, log: RequestLog, request_timeout: float) -> None:
        self.tokens_per_second = tokens_per_second
        self.request_timeout = request_timeout
        self.log = log
        self.counter = faults.FaultCounter()
        self.ids = itertools.count(1)

    # ----------------------------------------------------------------- errors
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

    # ----------------------------------------------------------------- flow
    async def handle(self, api: str, request: Request) -> Response:
        raw = await read_body(api, request, self.request_timeout)
        if isinstance(raw, Response):
            return raw
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
            if not self.counter.active(key, options.times, options.rate, options.seed):
                fault = None
        self.log.append(
            {"path": request.url.path, "api": api, "model": chat.model, "stream": chat.stream,
             "fault": fault, "digest": messages_digest(body.get("messages") or [])}
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
            json_schema=chat.json_schema,
        )
        if options.split:
            reply = split_reply(reply, options.split)
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
            stream_events(api, wire, options, fault, tps),
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
            return StreamingResponse(half_then_drop(body), media_type="application/json")
        return response


def models_routes(names: Sequence[str]) -> list[Route]:
    """``GET /v1/models`` (OpenAI list) and ``GET /egp/v1/models`` (EGP-style page) of `names`.

    PROTOCOL.md describes no EGP model listing; the EGP shape follows the paginated lists of
    the EGP API (``items`` plus ``total_item_count``, ``current_page``, ``items_per_page``).
    """
    names = list(dict.fromkeys(names))

    async def openai_models(request: Request) -> Response:
        cards = [{"id": n, "object": "model", "created": 0, "owned_by": "nbchat"} for n in names]
        return JSONBody({"object": "list", "data": cards})

    async def egp_models(request: Request) -> Response:
        items = [
            {"id": n, "name": n, "model_type": "chat_completion", "owned_by": "nbchat"}
            for n in names
        ]
        return JSONBody(
            {
                "items": items,
                "total_item_count": len(items),
                "current_page": 1,
                "items_per_page": len(items),
            }
        )

    return [
        Route(OPENAI_MODELS_PATH, openai_models, methods=["GET"]),
        Route(EGP_MODELS_PATH, egp_models, methods=["GET"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = exc.headers if isinstance(exc, HTTPException) else None
    reason = {404: "Not found", 405: "Method not allowed"}.get(status, "Server error")
    message = f"{reason}: {request.method} {request.url.path}"
    body: object = {"detail": message}
    if request.url.path.startswith("/v1/"):
        body = faults.openai_error(message, "invalid_request_error", None)
    return JSONBody(body, status_code=status, headers=headers)


def guarded_app(
    routes: list[Route],
    log: RequestLog,
    *,
    chat_paths: Iterable[str],
    host: str,
    allowed_hosts: Iterable[str] = (),
    api_key: str | None = None,
    rpm: int | None = None,
) -> Starlette:
    """A Starlette app of `routes` plus ``GET /stats``, behind the `guard.Guard` middleware.

    ``app.state.limiter`` is the `guard.RateLimiter` (or None without `rpm`);
    ``app.state.refused`` counts the guard's refusals by status.
    """
    limiter = None if rpm is None else guard.RateLimiter(rpm)
    refused: collections.Counter[str] = collections.Counter()

    async def stats(request: Request) -> Response:
        limited = 0 if limiter is None else limiter.refused
        return JSONBody(request_stats(log, limited, refused))

    middleware = [
        Middleware(
            guard.Guard,
            host_ok=guard.allowed_hosts(host, allowed_hosts),
            chat_paths=chat_paths,
            api_key=api_key,
            limiter=limiter,
            refused=refused,
        )
    ]
    app = Starlette(
        routes=[*routes, Route("/stats", stats, methods=["GET"])],
        middleware=middleware,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.limiter = limiter
    app.state.refused = refused
    return app


def create_app(
    api_key: str | None = None,
    tokens_per_second: float = 40.0,
    log: RequestLog | None = None,
    *,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    rpm: int | None = None,
    request_timeout: float = HEAD_TIMEOUT_S,
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
        Receives one ``{"path", "api", "model", "stream", "fault", "digest"}`` dict per chat
        request (never headers or keys); ``digest`` is `messages_digest` of the messages.
    host : str
        The interface the server is bound to: the ``Host`` header must name it or a loopback
        name (see `nbchat.server.guard.allowed_hosts`).
    allowed_hosts : iterable of str
        More host names to answer to.
    rpm : int, optional
        Accept at most this many chat requests per minute; others get 429 with
        ``Retry-After``.
    request_timeout : float
        Seconds a client has to send the request body (408 after that).

    Returns
    -------
    starlette.applications.Starlette
        The ASGI app.
    """
    install_log_filter()
    requests_log: RequestLog = [] if log is None else log
    handler = _ChatHandler(tokens_per_second, requests_log, request_timeout)

    def endpoint(api: str) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            return await handler.handle(api, request)

        return run

    async def index(request: Request) -> Response:
        return JSONBody(
            {
                "name": "nbchat embedded server",
                "description": "Offline deterministic demo model with EGP and OpenAI APIs.",
                "endpoints": {
                    "egp": EGP_PATH,
                    "openai": OPENAI_PATH,
                    "models": OPENAI_MODELS_PATH,
                    "egp_models": EGP_MODELS_PATH,
                    "stats": "/stats",
                },
                "models": list(DEMO_MODELS),
                "auth": "required" if api_key else "any key or none",
            }
        )

    routes = [
        Route("/", index, methods=["GET"]),
        *models_routes(DEMO_MODELS),
        Route(EGP_PATH, endpoint("egp"), methods=["POST"]),
        Route(OPENAI_PATH, endpoint("openai"), methods=["POST"]),
    ]
    return guarded_app(
        routes,
        requests_log,
        chat_paths=(EGP_PATH, OPENAI_PATH),
        host=host,
        allowed_hosts=allowed_hosts,
        api_key=api_key,
        rpm=rpm,
    )
