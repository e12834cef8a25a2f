"""Replay a recorded session (a cassette, see `nbchat.recording`) as a chat server.

Requests are matched to the recorded exchanges in order: request *n* must have the path, the
model, the messages and the parameters (every other field of the JSON body) of exchange *n*.
A match is answered with the recorded status, content type and body bytes, each piece at its
recorded time divided by ``speed`` (``0`` = no delay), chunked. A request that does not match
gets 409 saying what differed, and the cassette does not advance; once every exchange was
replayed, requests get 410.

Both errors are deterministic: retrying cannot help, so they carry ``x-should-retry: false``
and a machine-readable type, ``replay_mismatch`` (409) or ``replay_exhausted`` (410): in
``error.type`` and ``error.code`` of an OpenAI body, and in a ``type`` field next to
``detail`` in an EGP body. The server's checks (`nbchat.server.guard`) apply as for the demo
model, the API key included; bodies are capped at 1 MiB.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from nbchat._exceptions import ConfigError
from nbchat.recording import load_cassette
from nbchat.server import schema
from nbchat.server.app import EGP_PATH, OPENAI_PATH, guarded_app, models_routes, read_body
from nbchat.server.protocol import HEAD_TIMEOUT_S
from nbchat.server.stats import messages_digest
from nbchat.server.streaming import ConnectionDropped, install_log_filter
from nbchat.server.wire import JSONBody

__all__ = ["EXHAUSTED", "MISMATCH", "create_replay_app", "describe_mismatch"]

_NO_RETRY = {"x-should-retry": "false"}
MISMATCH = "replay_mismatch"
EXHAUSTED = "replay_exhausted"


def _api_of(path: str) -> str:  # the recorded path decides, as in the recording
    return "openai" if path.rstrip("/").endswith("/chat/completions") else "egp"


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(text)


def _pairs(messages: Any) -> list[tuple[Any, Any]]:
    if not isinstance(messages, list):
        return []
    return [
        (m.get("role"), m.get("content")) if isinstance(m, dict) else (None, m) for m in messages
    ]


def describe_mismatch(expected: list[tuple[Any, Any]], got: list[tuple[Any, Any]]) -> str | None:
    """How ``got`` differs from ``expected`` (lists of (role, content)), or None if equal."""
    if expected == got:
        return None

    def last_user(pairs: list[tuple[Any, Any]]) -> Any:
        return next((c for r, c in reversed(pairs) if r == "user"), None)

    exp_user, got_user = last_user(expected), last_user(got)
    if exp_user != got_user:
        return f"expected last user message {_short(exp_user)}, got {_short(got_user)}"
    for i, (e, g) in enumerate(zip(expected, got, strict=False)):
        if e != g:
            want, have = f"{e[0]} {_short(e[1])}", f"{g[0]} {_short(g[1])}"
            return f"message {i + 1} differs: expected {want}, got {have}"
    return f"expected {len(expected)} messages, got {len(got)}"


def describe_request_mismatch(recorded: dict[str, Any], got: dict[str, Any]) -> str | None:
    """How a request body differs from the recorded one: messages, model, then parameters."""
    diff = describe_mismatch(_pairs(recorded.get("messages")), _pairs(got.get("messages")))
    if diff is not None:
        return diff
    want_msgs, got_msgs = recorded.get("messages") or [], got.get("messages") or []
    for i, (e, g) in enumerate(zip(want_msgs, got_msgs, strict=False)):
        if e != g and isinstance(e, dict) and isinstance(g, dict):
            field = next(k for k in sorted(set(e) | set(g)) if e.get(k) != g.get(k))
            return (
                f"message {i + 1} differs in {field!r}: expected {_short(e.get(field))}, "
                f"got {_short(g.get(field))}"
            )
    if recorded.get("model") != got.get("model"):
        return f"expected model {_short(recorded.get('model'))}, got {_short(got.get('model'))}"
    for key in sorted((set(recorded) | set(got)) - {"messages", "model"}):
        if key not in got:
            return f"parameter {key!r} was recorded as {_short(recorded[key])} but not sent"
        if key not in recorded:
            return f"parameter {key!r} was sent as {_short(got[key])} but not recorded"
        if recorded[key] != got[key]:
            return (
                f"parameter {key!r} differs: expected {_short(recorded[key])}, "
                f"got {_short(got[key])}"
            )
    return None


def check_speed(speed: float) -> float:
    """`speed` as a float; a finite number >= 0 (``0`` = no delay), else `ConfigError`."""
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise ConfigError(f"speed must be a number, got {speed!r}")
    if not math.isfinite(speed) or speed < 0:
        raise ConfigError(f"speed must be a finite number > 0 (or 0 for no delay), got {speed!r}")
    return float(speed)


class Replayer:
    """The replay state: the exchanges and the position in them."""

    def __init__(
        self, cassette: dict[str, Any], speed: float, request_timeout: float = HEAD_TIMEOUT_S
    ) -> None:
        self.exchanges: list[dict[str, Any]] = list(cassette["exchanges"])
        self.speed = check_speed(speed)
        self.request_timeout = request_timeout
        self.position = 0
        self.requests = 0

    @property
    def remaining(self) -> int:
        return len(self.exchanges) - self.position

    @property
    def models(self) -> list[str]:
        """The model names of the recorded requests, first seen first."""
        names = (ex["request"].get("model") for ex in self.exchanges)
        return list(dict.fromkeys(n for n in names if isinstance(n, str)))

    def _delay(self, t: float) -> float:
        return t / self.speed if self.speed > 0 else 0.0

    @staticmethod
    def error(api: str, status: int, message: str, kind: str) -> Response:
        body: object = {"detail": message, "type": kind}
        if api == "openai":
            body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
        return JSONBody(body, status_code=status, headers=_NO_RETRY)

    async def handle(self, request: Request, log: list[dict[str, Any]]) -> Response:
        loop = asyncio.get_running_loop()
        start = loop.time()
        path = request.url.path
        api = _api_of(path)
        raw = await read_body(api, request, self.request_timeout)
        if isinstance(raw, Response):
            return raw
        try:
            body = schema.parse_json(raw)
        except schema.RequestInvalid as exc:
            return self.error(api, 400, f"invalid request: {exc}", "invalid_request_error")
        self.requests += 1
        model = body.get("model")
        log.append(
            {"path": path, "api": api, "model": model if isinstance(model, str) else None,
             "stream": body.get("stream"), "fault": None,
             "digest": messages_digest(body.get("messages") or [])}
        )  # fmt: skip
        n = self.position + 1
        if self.position >= len(self.exchanges):
            total = len(self.exchanges)
            return self.error(
                api,
                410,
                f"Replay cassette exhausted: all {total} recorded exchanges were replayed and "
                f"request {self.requests} has no recording. Record the session again to extend "
                "it, or restart the replay server to play it from the start.",
                EXHAUSTED,
            )
        ex = self.exchanges[self.position]
        where = (
            f"Replay mismatch: request {n} does not match the cassette "
            f"(exchange {n} of {len(self.exchanges)})"
        )
        diff: str | None
        if ex["path"] != path:
            diff = f"expected POST {ex['path']}, got POST {path}"
        else:
            diff = describe_request_mismatch(ex["request"], body)
        if diff is not None:
            return self.error(api, 409, f"{where}: {diff}", MISMATCH)
        self.position += 1
        wait = start + self._delay(float(ex.get("response_t") or 0.0)) - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        headers = {"content-type": ex.get("content_type") or "application/octet-stream"}
        return StreamingResponse(
            self._body(ex, start), status_code=int(ex["status"]), headers=headers
        )

    async def _body(self, ex: dict[str, Any], start: float) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        for t, data in ex.get("body") or []:
            wait = start + self._delay(float(t)) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            yield base64.b64decode(data)
        if ex.get("interrupted"):
            await asyncio.sleep(0.05)  # let the last piece reach the client first
            raise ConnectionDropped("recorded body broke off")


def create_replay_app(
    cassette: str | os.PathLike[str] | dict[str, Any],
    speed: float = 1.0,
    log: list[dict[str, Any]] | None = None,
    *,
    api_key: str | None = None,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    rpm: int | None = None,
    request_timeout: float = HEAD_TIMEOUT_S,
) -> Starlette:
    """Create an app that replays a recorded session.

    Parameters
    ----------
    cassette : path or dict
        A cassette file written by `nbchat.recording.Recorder`, or its parsed document.
    speed : float
        Playback speed: recorded times are divided by it; ``0`` sends everything at once.
    log : list, optional
        Receives one ``{"path", "api", "model", "stream", "fault", "digest"}`` dict per chat
        request.
    api_key, host, allowed_hosts, rpm, request_timeout
        As for `nbchat.server.app.create_app`.

    Returns
    -------
    starlette.applications.Starlette
        The ASGI app; its ``state.replayer`` holds the position in the cassette.

    Raises
    ------
    ConfigError
        If the cassette is invalid (naming the exchange and field) or `speed` is not a
        finite number >= 0.
    """
    install_log_filter()
    replayer = Replayer(load_cassette(cassette), speed, request_timeout)
    requests_log: list[dict[str, Any]] = [] if log is None else log

    async def chat(request: Request) -> Response:
        return await replayer.handle(request, requests_log)

    async def index(request: Request) -> Response:
        return JSONBody(
            {
                "name": "nbchat replay server",
                "exchanges": len(replayer.exchanges),
                "replayed": replayer.position,
                "speed": replayer.speed,
                "models": replayer.models,
                "endpoints": {"egp": EGP_PATH, "openai": OPENAI_PATH},
            }
        )

    paths = sorted({EGP_PATH, OPENAI_PATH} | {str(ex["path"]) for ex in replayer.exchanges})
    routes = [Route("/", index, methods=["GET"]), *models_routes(replayer.models)]
    routes += [Route(p, chat, methods=["POST"]) for p in paths]
    app = guarded_app(
        routes,
        requests_log,
        chat_paths=paths,
        host=host,
        allowed_hosts=allowed_hosts,
        api_key=api_key,
        rpm=rpm,
    )
    app.state.replayer = replayer
    return app
