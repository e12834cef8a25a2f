"""HTTP with requests: sessions, the status check, and a read loop that sees bytes as they arrive.

``iter_content(chunk_size=None)`` waits for the whole body when a server does not use chunked
encoding (PROTOCOL.md 1.1), so the body is read with ``raw.read1``, which returns what has
arrived. Errors are mapped to nbchat's exception tree here, and nowhere else.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import requests
import urllib3.exceptions

from nbchat._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    NotFoundError,
    RateLimitError,
    ReplayExhaustedError,
    ReplayMismatchError,
    ServerError,
)
from nbchat.transport.chunked import READ_SIZE, BodyInterrupted, Dechunker

__all__ = [
    "ERROR_BODY_LIMIT",
    "BodyInterrupted",
    "error_from_response",
    "iter_body",
    "make_session",
    "post",
    "shutdown",
]

#: How much of an error body is read (PROTOCOL.md 5.2).
ERROR_BODY_LIMIT = 64 * 1024


def make_session() -> requests.Session:
    """A session with nbchat's User-Agent; connection pooling across turns."""
    from nbchat._version import __version__

    s = requests.Session()
    s.headers["User-Agent"] = f"nbchat/{__version__}"
    return s


def post(
    session: requests.Session,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    timeout: tuple[float, float],
) -> requests.Response:
    """POST ``body`` as JSON with ``stream=True``; map connection failures to APIConnectionError.

    The caller checks the status with :func:`error_from_response` before reading the body.
    """
    try:
        # Redirects are not followed: requests would forward x-api-key (it strips only
        # Authorization) to whatever host the Location names (see _refuse_redirect).
        resp = session.post(
            url, json=body, headers=headers, stream=True, timeout=timeout, allow_redirects=False
        )
    except (requests.exceptions.InvalidHeader, UnicodeEncodeError):
        # Both quote the header value, which may be the key: say which, never what.
        raise ConfigError(
            "a request header is not valid HTTP (a line break or a non-Latin-1 character); "
            "header values are not shown"
        ) from None
    except requests.exceptions.Timeout as exc:
        raise APIConnectionError(f"timed out connecting to {_where(url)} ({_cause(exc)})") from None
    except requests.exceptions.RequestException as exc:
        raise APIConnectionError(f"could not connect to {_where(url)}: {_cause(exc)}") from None
    _refuse_redirect(resp)
    return resp


def _refuse_redirect(response: requests.Response) -> None:
    """Raise APIError for a 3xx answer, naming where it pointed (without credentials).

    Following it would send the key to the Location's host; even a same-host redirect
    usually means a wrong base URL (http for https, a missing path segment).
    """
    status = response.status_code
    if not 300 <= status < 400:
        return
    location = response.headers.get("location") or ""
    response.close()
    target = _where(urllib.parse.urljoin(response.url or "", location)) if location else "nowhere"
    raise APIError(
        f"{status} redirect from {_where(response.url)} to {target}: nbchat does not follow "
        "redirects, so the API key is never sent to another address; if you trust the new "
        "address, use it as base_url",
        status,
    )


def tap(
    response: requests.Response,
    on_piece: Callable[[bytes], None],
    on_break: Callable[[str], None],
) -> None:
    """Have :func:`iter_body` report every body piece, and a break, to these callbacks.

    Used by the session recorder; a response without a tap pays nothing per piece.
    """
    response.__dict__["_nbchat_tap"] = (on_piece, on_break)


def iter_body(response: requests.Response) -> Iterator[bytes]:
    """Yield body bytes as they arrive; raise BodyInterrupted when the body breaks off.

    A chunked body without a content encoding is de-chunked here from blocks of up to
    ``READ_SIZE`` bytes (``nbchat.transport.chunked``): a fast server sends one small HTTP chunk per
    event, and urllib3's ``read_chunked`` costs about 2 µs per chunk, more than the SSE
    decoder spends on the event. Any other body is read with ``read1``, which returns what
    has arrived instead of waiting for a full buffer. Either way a piece is yielded as soon
    as its bytes are in.
    """
    raw = response.raw
    taps = response.__dict__.get("_nbchat_tap")
    pieces: Iterator[bytes]
    if raw.chunked and raw.supports_chunked_reads():
        dechunker = response.__dict__.get("_nbchat_dechunker")
        fp = _plain_file(raw) if dechunker is None else None
        if fp is not None:
            dechunker = response.__dict__["_nbchat_dechunker"] = Dechunker(fp)
        pieces = dechunker.pieces() if dechunker is not None else _read_chunked(raw)
    else:
        pieces = _read1_loop(raw)
    try:
        for data in pieces:
            if taps is not None:
                taps[0](data)
            yield data
    except BodyInterrupted as exc:
        if taps is not None:
            taps[1](type(exc).__name__)
        raise
    except (
        urllib3.exceptions.HTTPError,
        requests.exceptions.RequestException,
        http.client.HTTPException,
        OSError,
        ValueError,  # reading a response closed from another thread
        AttributeError,  # urllib3 after its file object was released mid-read
    ) as exc:
        if taps is not None:
            taps[1](type(exc).__name__)
        raise BodyInterrupted(_cause(exc)) from None


def _plain_file(raw: Any) -> Any:
    """The socket file under a body we can de-chunk by hand (no content encoding), or None."""
    encoding = str(raw.headers.get("content-encoding", "identity")).strip().lower()
    fp = getattr(getattr(raw, "_fp", None), "fp", None)
    if encoding in ("", "identity") and fp is not None and hasattr(fp, "read1"):
        return fp
    return None


def _read_chunked(raw: Any) -> Iterator[bytes]:
    for data in raw.read_chunked(None, decode_content=True):
        if data:
            yield data


def _read1_loop(raw: Any) -> Iterator[bytes]:
    while True:
        data: bytes = raw.read1(READ_SIZE, decode_content=True)
        if not data:
            return
        yield data


def shutdown(response: requests.Response) -> None:
    """Close a response from any thread, promptly.

    Closing the socket for reading wakes a thread blocked in ``read1``; then the
    connection is dropped, not returned to the pool.
    """
    sock = _socket_of(response)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


def _socket_of(response: requests.Response) -> socket.socket | None:
    raw = response.raw
    conn = getattr(raw, "_connection", None)
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    fp = getattr(raw, "_fp", None)
    sock = getattr(getattr(getattr(fp, "fp", None), "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def read_limited(response: requests.Response, limit: int = ERROR_BODY_LIMIT) -> bytes:
    """Read at most ``limit`` bytes of a body (error bodies, sync bodies are read whole)."""
    out = bytearray()
    for chunk in iter_body(response):
        out += chunk
        if len(out) >= limit:
            break
    return bytes(out[:limit])


def error_from_response(
    response: requests.Response,
    message_of: Callable[[bytes], str],
    kind_of: Callable[[bytes], str | None] | None = None,
) -> APIError:
    """The typed exception for a non-2xx response (reads at most ERROR_BODY_LIMIT bytes).

    ``message_of`` reads the server's own message out of the body: the API's business
    (``nbchat.backends.errors.body_message``), not the transport's; ``kind_of`` its
    machine-readable type (``body_kind``), which types a replay server's 409 and 410.
    """
    status = response.status_code
    try:
        body = read_limited(response)
    except BodyInterrupted:
        body = b""
    finally:
        response.close()
    msg = message_of(body)
    where = _where(response.url)
    kind = kind_of(body) if kind_of is not None else None
    if kind in _REPLAY_ERRORS:
        return _REPLAY_ERRORS[kind](f"{status} {msg}", status)
    if status in (401, 403):
        what = "authentication failed" if status == 401 else "permission denied"
        return AuthenticationError(f"{status} {what} at {where}: {msg}", status)
    if status == 404:
        return NotFoundError(f"404 not found (unknown model or path) at {where}: {msg}", status)
    if status == 429:
        return RateLimitError(
            f"429 rate limited by {where}: {msg}", status, retry_after(response.headers)
        )
    if status in (400, 413, 422) or (400 <= status < 500 and status not in (408, 409)):
        return BadRequestError(f"{status} bad request: {msg}", status)
    reason = response.reason or ""
    return ServerError(f"{status} {reason} from {where}: {msg}".replace("  ", " "), status)


#: The replay server's error types (``nbchat.server.replay``): deterministic, never retried.
_REPLAY_ERRORS: dict[str | None, type[APIError]] = {
    "replay_mismatch": ReplayMismatchError,
    "replay_exhausted": ReplayExhaustedError,
}


def retry_after(headers: Any) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, else ``Retry-After``."""
    ms = headers.get("retry-after-ms")
    if ms:
        with contextlib.suppress(ValueError):
            return float(ms) / 1000.0
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() - time.time()


def _where(url: str | None) -> str:
    """Scheme, host and path of a URL; never its query string or credentials."""
    if not url:
        return "the server"
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _cause(exc: BaseException) -> str:
    """A short description of a network error (the innermost reason, no URL query strings)."""
    inner: BaseException = exc
    while True:
        nxt = inner.__context__ or inner.__cause__
        if nxt is None or nxt is inner:
            break
        if len(inner.args) and isinstance(inner.args[0], BaseException):
            inner = inner.args[0]
            continue
        break
    reason = getattr(inner, "reason", None)
    if isinstance(reason, BaseException):
        inner = reason
    if isinstance(inner, (requests.exceptions.InvalidHeader, UnicodeError)):
        return type(inner).__name__  # their text quotes a header value: maybe the key
    text = str(inner) or type(inner).__name__
    return text[:300]
