"""Replay a recorded session (a cassette, see `nbchat.recording`) as a chat server.

Requests are matched to the recorded exchanges in order: request *n* must have the path and
the messages (role and content) of exchange *n*. A match is answered with the recorded
status, content type and body bytes, each piece at its recorded time divided by ``speed``
(``0`` = no delay), chunked. A request that does not match gets 409 saying what differed,
and the cassette does not advance; once every exchange was replayed, requests get 410.
Errors use each API's body (EGP ``{"detail": ...}``, OpenAI ``{"error": {...}}``) and the
header ``x-should-retry: false``. No key is needed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from nbchat.recording import load_cassette
from nbchat.server import faults
from nbchat.server.app import EGP_PATH, OPENAI_PATH, ConnectionDropped, _install_log_filter
from nbchat.server.wire import JSONBody

__all__ = ["create_replay_app"]

_NO_RETRY = {"x-should-retry": "false"}


def _api_of(path: str) -> str:
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


class Replayer:
    """The replay state: the exchanges and the position in them."""

    def __init__(self, cassette: dict[str, Any], speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.exchanges: list[dict[str, Any]] = list(cassette["exchanges"])
        self.speed = float(speed)
        self.position = 0
        self.requests = 0

    @property
    def remaining(self) -> int:
        return len(self.exchanges) - self.position

    def _delay(self, t: float) -> float:
        return t / self.speed if self.speed > 0 else 0.0

    @staticmethod
    def error(api: str, status: int, message: str, code: str) -> Response:
        body: object = {"detail": message}
        if api == "openai":
            body = faults.openai_error(message, "invalid_request_error", code)
        return JSONBody(body, status_code=status, headers=_NO_RETRY)

    async def handle(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        start = loop.time()
        path = request.url.path
        api = _api_of(path)
        self.requests += 1
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self.error(api, 400, "the request body is not a JSON object", "invalid_json")
        n = self.position + 1
        if self.position >= len(self.exchanges):
            total = len(self.exchanges)
            return self.error(
                api,
                410,
                f"the cassette is exhausted: all {total} recorded exchanges were replayed "
                f"(request {self.requests} has no recording)",
                "cassette_exhausted",
            )
        ex = self.exchanges[self.position]
        where = f"request {n} does not match the cassette (exchange {n} of {len(self.exchanges)})"
        if ex.get("path") != path:
            return self.error(
                api, 409, f"{where}: expected POST {ex.get('path')}, got POST {path}", "mismatch"
            )
        recorded = ex.get("request") or {}
        diff = describe_mismatch(_pairs(recorded.get("messages")), _pairs(body.get("messages")))
        if diff is not None:
            return self.error(api, 409, f"{where}: {diff}", "mismatch")
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
) -> Starlette:
    """Create an app that replays a recorded session.

    Parameters
    ----------
    cassette : path or dict
        A cassette file written by `nbchat.recording.Recorder`, or its parsed document.
    speed : float
        Playback speed: recorded times are divided by it; ``0`` sends everything at once.
    log : list, optional
        Receives one ``{"path", "api", "model", "stream", "fault"}`` dict per chat request.

    Returns
    -------
    starlette.applications.Starlette
        The ASGI app; its ``state.replayer`` holds the position in the cassette.
    """
    _install_log_filter()
    replayer = Replayer(load_cassette(cassette), speed)
    requests_log = [] if log is None else log

    async def chat(request: Request) -> Response:
        requests_log.append(
            {"path": request.url.path, "api": _api_of(request.url.path), "model": None,
             "stream": None, "fault": None}
        )  # fmt: skip
        return await replayer.handle(request)

    async def index(request: Request) -> Response:
        return JSONBody(
            {
                "name": "nbchat replay server",
                "exchanges": len(replayer.exchanges),
                "replayed": replayer.position,
                "speed": replayer.speed,
                "endpoints": {"egp": EGP_PATH, "openai": OPENAI_PATH},
            }
        )

    paths = {EGP_PATH, OPENAI_PATH} | {str(ex.get("path")) for ex in replayer.exchanges}
    routes = [Route("/", index, methods=["GET"])]
    routes += [Route(p, chat, methods=["POST"]) for p in sorted(paths)]
    app = Starlette(routes=routes)
    app.state.replayer = replayer
    return app
