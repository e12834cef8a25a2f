"""What the embedded server checks before a request reaches a route.

The server runs inside a Jupyter kernel on the user's machine, and any web page open in the
same browser can send it requests. `Guard` is a small ASGI middleware that answers, in this
order:

1. ``421`` when the ``Host`` header names a host the server was not bound for. A page that
   rebinds its own DNS name to 127.0.0.1 ("DNS rebinding") sends its own name as ``Host``
   and is refused, so it can never read a reply.
2. ``401`` when the server has an API key and the request does not send it (every path
   except ``GET /``).
3. ``415`` when a chat request's body is not ``application/json``. A cross-site page can only
   send "simple" requests without a CORS preflight (``text/plain``, form encodings), so it
   cannot reach the model at all.
4. ``429`` with ``Retry-After`` when a chat request would exceed the server's requests per
   minute (``rpm``).

Error bodies follow each API (PROTOCOL.md §2.5 and §3.4): ``{"detail": ...}`` for EGP paths,
``{"error": {...}}`` for ``/v1/...`` paths.
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import math
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response

from nbchat.server.wire import JSONBody

__all__ = [
    "LOOPBACK_HOSTS",
    "Guard",
    "RateLimiter",
    "allowed_hosts",
    "error_response",
    "host_name",
    "is_loopback",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Host names every server answers to (``[::1]`` is compared without its brackets)."""
_WILDCARD = frozenset({"0.0.0.0", "::", ""})
_NO_RETRY = {"x-should-retry": "false"}
WINDOW_S = 60.0
"""The window of the ``rpm`` limit, in seconds."""


def host_name(value: str) -> str:
    """The host part of a ``Host`` header, lower case, without port and brackets.

    >>> host_name("[::1]:8765"), host_name("LocalHost:80"), host_name("127.0.0.1")
    ('::1', 'localhost', '127.0.0.1')
    """
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the server reachable from this machine only."""
    name = host_name(host) if host.startswith("[") else host.lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> Callable[[str], bool]:
    """The ``Host`` check of a server bound to `bind_host`.

    Parameters
    ----------
    bind_host : str
        The interface the server listens on.
    extra : iterable of str
        More host names to answer to (e.g. a proxy's name).

    Returns
    -------
    callable
        ``check(host_header) -> bool``. Loopback names, `bind_host` and `extra` are allowed,
        with any port. A server bound to every interface (``0.0.0.0``, ``::``) also answers
        to any IP address and to this machine's host names: a literal IP in ``Host`` cannot
        come from a rebound DNS name.
    """
    names = set(LOOPBACK_HOSTS) | {host_name(h) for h in extra}
    bind = host_name(bind_host) if bind_host.startswith("[") else bind_host.lower()
    wildcard = bind in _WILDCARD
    if wildcard:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    else:
        names.add(bind)

    def check(header: str) -> bool:
        name = host_name(header)
        return name in names or (wildcard and _is_ip(name))

    return check


def error_response(
    api: str,
    status: int,
    message: str,
    kind: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error in the shape of `api` (``"egp"``: ``detail``; ``"openai"``: ``error``)."""
    body: object
    if api == "egp":
        body = {"detail": message}
    else:
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONBody(body, status_code=status, headers=headers)


def api_of(path: str) -> str:
    """``"openai"`` for ``/v1/...`` paths and OpenAI-style chat paths, else ``"egp"``."""
    if path.startswith("/v1/") or path.rstrip("/").endswith("/chat/completions"):
        return "openai"
    return "egp"


class RateLimiter:
    """At most `rpm` accepted requests in any `WINDOW_S` seconds (a sliding window).

    Used from one event loop only, so it needs no lock. Refused requests do not count.
    """

    def __init__(self, rpm: int, clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(rpm, bool) or not isinstance(rpm, int) or rpm < 1:
            raise ValueError(f"rpm must be a positive integer, got {rpm!r}")
        self.rpm = rpm
        self.clock = clock
        self.refused = 0
        self._times: collections.deque[float] = collections.deque()

    def take(self) -> float | None:
        """Count one request; return None if it may go on, else the seconds to wait."""
        now = self.clock()
        while self._times and self._times[0] <= now - WINDOW_S:
            self._times.popleft()
        if len(self._times) < self.rpm:
            self._times.append(now)
            return None
        self.refused += 1
        return self._times[0] + WINDOW_S - now

    @property
    def remaining(self) -> int:
        """Requests still allowed in the current window."""
        return max(0, self.rpm - len(self._times))


class Guard:
    """ASGI middleware: Host check, API key, JSON content type and request rate (see module).

    Parameters
    ----------
    app : ASGI app
        The wrapped app.
    host_ok : callable
        ``host_ok(host_header) -> bool``, from `allowed_hosts`.
    chat_paths : iterable of str
        The POST paths of chat requests (content type and rate checks).
    api_key : str, optional
        Required key (``x-api-key`` or ``Authorization: Bearer``).
    limiter : RateLimiter, optional
        The requests-per-minute limit of the chat paths.
    refused : collections.Counter, optional
        Counts every refusal by status (``"401"``, ``"415"``, ``"421"``, ``"429"``).
    """

    def __init__(
        self,
        app: ASGIApp,
        host_ok: Callable[[str], bool],
        chat_paths: Iterable[str],
        api_key: str | None = None,
        limiter: RateLimiter | None = None,
        refused: collections.Counter[str] | None = None,
    ) -> None:
        self.app = app
        self.refused = collections.Counter[str]() if refused is None else refused
        self.host_ok = host_ok
        self.chat_paths = frozenset(chat_paths)
        self.api_key = api_key
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.check(scope)
        if refusal is not None:
            self.refused[str(refusal.status_code)] += 1
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> Response | None:
        """The refusal of a request, or None to let it through."""
        headers = Headers(scope=scope)
        path: str = scope["path"]
        api = api_of(path)
        host = headers.get("host")
        if host is None or not self.host_ok(host):
            shown = "no Host header" if host is None else f"Host {host[:100]!r}"
            message = (
                f"Misdirected request: this server does not answer to {shown}; use "
                "127.0.0.1, localhost or the host it was started on."
            )
            return error_response(
                api, 421, message, "invalid_request_error", "misdirected_request", _NO_RETRY
            )
        if self.api_key is not None and path != "/":
            denied = self._check_key(api, headers)
            if denied is not None:
                return denied
        if scope["method"] == "POST" and path in self.chat_paths:
            ctype = headers.get("content-type", "")
            media = ctype.partition(";")[0].strip().lower()
            if media != "application/json":
                shown = f"{ctype[:80]!r}" if ctype else "none"
                message = (
                    f"Unsupported Content-Type {shown}: send the request body as JSON with "
                    "'Content-Type: application/json'."
                )
                return error_response(
                    api, 415, message, "invalid_request_error", "unsupported_media_type", _NO_RETRY
                )
            if self.limiter is not None:
                wait = self.limiter.take()
                if wait is not None:
                    return self._rate_limited(api, wait)
        return None

    def _check_key(self, api: str, headers: Headers) -> Response | None:
        assert self.api_key is not None
        sent = headers.get("x-api-key")
        auth = headers.get("authorization", "")
        if sent is None and auth.lower().startswith("bearer "):
            sent = auth[7:].strip()
        if sent is None:
            header = "x-api-key" if api == "egp" else "Authorization: Bearer"
            message = f"Missing API key: send it in the {header} header."
            return error_response(api, 401, message, "invalid_request_error", "invalid_api_key")
        if not hmac.compare_digest(sent.encode(errors="replace"), self.api_key.encode()):
            message = "Incorrect API key provided."
            return error_response(api, 401, message, "invalid_request_error", "invalid_api_key")
        return None

    def _rate_limited(self, api: str, wait: float) -> Response:
        assert self.limiter is not None
        seconds = max(1, math.ceil(wait))
        rpm = self.limiter.rpm
        message = (
            f"Rate limit reached: this server accepts {rpm} requests per minute; "
            f"try again in {seconds} s."
        )
        headers = {
            "Retry-After": str(seconds),
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{seconds}s",
        }
        return error_response(api, 429, message, "requests", "rate_limit_exceeded", headers)
