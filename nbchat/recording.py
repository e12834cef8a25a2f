"""Record real chat sessions to a cassette file, byte for byte, for exact replay.

::

    with Recorder("session.json") as rec:        # from nbchat.recording import Recorder
        client = nbchat.Client(base_url=..., api_key=..., recorder=rec)
        client.complete([{"role": "user", "content": "Hi"}], model="...")

    with nbchat.serve(replay="session.json") as server:   # the same bytes, the same timing
        ...

The cassette is one JSON document, ``{"version": 1, "exchanges": [...]}``, rewritten
atomically after each exchange. An exchange is one HTTP request and its response:

``api``, ``path``
    ``"egp"`` or ``"openai"``; the URL path (no host, no query string).
``request``
    The JSON body sent (model, messages, parameters). Headers are never recorded, so
    neither is the API key.
``status``, ``content_type``
    The response status and its ``Content-Type`` (the only header kept).
``response_t``
    Seconds from sending the request until the status line and headers arrived.
``body``
    ``[[t, base64], ...]``: the body pieces exactly as they came off the socket, ``t`` in
    seconds since the request was sent.
``interrupted``
    Present when the body broke off (the replay server then aborts the connection too).
``reply``
    The summary the client made of it: ``content``, ``status``, ``usage``,
    ``finish_reason``, ``ttft``, ``latency``, ``error``; ``None`` for a response the client
    retried (e.g. a 429 before the real answer).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from nbchat.transport import http

if TYPE_CHECKING:
    import requests

    from nbchat.records import Reply

__all__ = ["CASSETTE_VERSION", "Recorder", "load_cassette"]

CASSETTE_VERSION = 1
_PIECE = re.compile(r'\[\s*([0-9][0-9.e+-]*),\s*("[A-Za-z0-9+/=]*")\s*\]')


class Recorder:
    """Writes every exchange of the clients that use it to a cassette file.

    Pass it to a client: ``nbchat.Client(..., recorder=rec)``. One recorder may serve
    several clients and threads; exchanges are stored in the order their requests were
    sent. The file is created (or replaced) on the first write and rewritten atomically
    after each exchange, so it is always a complete JSON document.

    Parameters
    ----------
    path:
        The cassette file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._exchanges: list[_Exchange] = []

    @property
    def exchanges(self) -> list[dict[str, Any]]:
        """The exchanges recorded so far, as they are written to the file."""
        with self._lock:
            return [ex.to_dict() for ex in self._exchanges]

    def to_dict(self) -> dict[str, Any]:
        """The cassette document."""
        return {"version": CASSETTE_VERSION, "exchanges": self.exchanges}

    def save(self) -> None:
        """Rewrite the cassette file atomically (write a temporary file, then rename)."""
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n"
        text = _PIECE.sub(r"[\1, \2]", text)  # one body piece per line
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = self.path.stat().st_mode & 0o777
        except OSError:
            mode = 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def close(self) -> None:
        """Write the file (also when nothing was recorded)."""
        self.save()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<nbchat.Recorder {str(self.path)!r} exchanges={len(self._exchanges)}>"

    # -- used by nbchat._stream.Stream ---------------------------------------------------

    def start(
        self,
        api: str,
        url: str,
        payload: dict[str, Any],
        response: requests.Response,
        sent: float,
    ) -> _Exchange:
        """A response arrived: begin its exchange and tap its body to record each piece.

        ``sent`` is the ``time.monotonic()`` at which the request was sent.
        """
        now = time.monotonic()
        ex = _Exchange(
            self,
            api=api,
            path=urllib.parse.urlsplit(url).path,
            request=json.loads(json.dumps(payload)),  # a deep copy
            status=response.status_code,
            content_type=response.headers.get("content-type"),
            response_t=now - sent,
            sent=sent,
        )
        http.tap(response, ex.piece, ex.broke)
        with self._lock:
            self._exchanges.append(ex)
        # an earlier exchange of this stream that was retried is complete now
        self.save()
        return ex


class _Exchange:
    """One request/response being recorded."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        api: str,
        path: str,
        request: dict[str, Any],
        status: int,
        content_type: str | None,
        response_t: float,
        sent: float,
    ) -> None:
        self._recorder = recorder
        self.api = api
        self.path = path
        self.request = request
        self.status = status
        self.content_type = content_type
        self.response_t = response_t
        self.sent = sent
        self.pieces: list[tuple[float, bytes]] = []
        self.interrupted: str | None = None
        self.reply: dict[str, Any] | None = None

    def piece(self, data: bytes) -> None:
        self.pieces.append((time.monotonic() - self.sent, data))

    def broke(self, reason: str) -> None:
        self.interrupted = reason

    def finish(self, reply: Reply) -> None:
        """The client made its reply: store the summary and rewrite the file."""
        self.reply = {
            "content": reply.content,
            "status": reply.status,
            "usage": reply.usage.to_dict() if reply.usage else None,
            "finish_reason": reply.finish_reason,
            "ttft": reply.ttft,
            "latency": reply.latency,
            "error": reply.error,
        }
        self._recorder.save()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "api": self.api,
            "path": self.path,
            "request": self.request,
            "status": self.status,
            "content_type": self.content_type,
            "response_t": round(self.response_t, 6),
            "body": [
                [round(t, 6), base64.b64encode(data).decode("ascii")] for t, data in self.pieces
            ],
        }
        if self.interrupted is not None:
            d["interrupted"] = self.interrupted
        d["reply"] = self.reply
        return d


def load_cassette(source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    """Read and check a cassette (a path or the already-parsed document).

    Every exchange is checked, so a damaged or hand-edited cassette fails here, naming the
    exchange and field, instead of failing later as a server error.

    Raises
    ------
    ConfigError
        If the file is not JSON or any part of the document is not a valid cassette.
    OSError
        If the file cannot be read.
    """
    from nbchat._exceptions import ConfigError

    where = "the cassette" if isinstance(source, dict) else f"cassette {str(source)!r}"
    if isinstance(source, dict):
        doc: Any = source
    else:
        try:
            doc = json.loads(Path(source).read_text("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("exchanges"), list):
        raise ConfigError(
            f"{where} is not an nbchat cassette: expected {{'version': 1, 'exchanges': [...]}}"
        )
    if doc.get("version") != CASSETTE_VERSION:
        raise ConfigError(f"{where} has unsupported version {doc.get('version')!r}")
    for index, exchange in enumerate(doc["exchanges"]):
        problem = _exchange_problem(exchange)
        if problem is not None:
            raise ConfigError(f"{where}: exchange {index + 1} (exchanges[{index}]) {problem}")
    return doc


def _number_problem(value: Any, name: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"has a non-numeric {name}: {value!r}"
    if not math.isfinite(value) or value < 0:
        return f"has {name} {value!r}; expected a finite number >= 0"
    return None


def _exchange_problem(ex: Any) -> str | None:
    """What is wrong with one exchange, or None."""
    if not isinstance(ex, dict):
        return f"is a {type(ex).__name__}, not an object"
    if ex.get("api") not in ("egp", "openai"):
        return f"has api {ex.get('api')!r}; expected 'egp' or 'openai'"
    path = ex.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        return f"has path {path!r}; expected a URL path starting with '/'"
    if not isinstance(ex.get("request"), dict):
        return "has no request object (the JSON body that was sent)"
    if not isinstance(ex["request"].get("messages"), list):
        return "has a request without a messages list"
    status = ex.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        shown = "no status" if "status" not in ex else f"status {status!r}"
        return f"has {shown}; expected an HTTP status code (100-599)"
    ctype = ex.get("content_type")
    if ctype is not None and not isinstance(ctype, str):
        return f"has content_type {ctype!r}; expected a string or null"
    if "response_t" in ex and ex["response_t"] is not None:
        problem = _number_problem(ex["response_t"], "response_t")
        if problem is not None:
            return problem
    body = ex.get("body", [])
    if not isinstance(body, list):
        return "has a body that is not a list of [t, base64] pieces"
    for n, piece in enumerate(body):
        if not isinstance(piece, list) or len(piece) != 2:
            return f"has body[{n}] {_short(piece)}; expected [t, base64]"
        problem = _number_problem(piece[0], f"time in body[{n}]")
        if problem is not None:
            return problem
        try:
            if not isinstance(piece[1], str):
                raise ValueError
            base64.b64decode(piece[1], validate=True)
        except (ValueError, binascii.Error):
            return f"has body[{n}] data that is not base64: {_short(piece[1])}"
    interrupted = ex.get("interrupted")
    if interrupted is not None and not isinstance(interrupted, str):
        return f"has interrupted {interrupted!r}; expected a string"
    if ex.get("reply") is not None and not isinstance(ex["reply"], dict):
        return "has a reply that is not an object or null"
    return None


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
