"""uvicorn's h11 protocol with a deadline for the request head.

uvicorn 0.54 offers ``timeout_keep_alive`` (idle time *between* requests, armed only after a
response) and ``h11_max_incomplete_event_size`` (the size of a head), but no time limit for a
head that arrives slowly or never completes: a connection that sends
``POST / HTTP/1.1\\r\\nHost: x\\r\\n`` and stops is held open for as long as the peer likes,
and uvicorn's keep-alive timer is cancelled by any byte received. `HeadTimeoutH11` closes a
connection whose head is not complete `head_timeout` seconds after the connection opened or
after the first byte of a new request on a kept-alive connection. It sends
``408 Request Timeout`` first when part of a head was received.

Once the head is in, the request body has its own deadline in the app (`read_body`).

It also closes *lingeringly*: when a response that closes the connection (a 413 or 408 sent
before the body was read) is complete while request bytes are still arriving, a plain close
makes the kernel answer them with a reset, which can destroy the response before the client
reads it (the client then sees "connection broken" instead of the server's message). Instead
the write side is shut (the client gets the response and a FIN), and what still arrives is
read and dropped for at most `LINGER_S` seconds, then the connection closes (as Apache's
``lingering_close`` does).
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEAD_TIMEOUT_S", "LINGER_S", "HeadTimeoutH11", "with_head_timeout"]

HEAD_TIMEOUT_S = 10.0
"""Default seconds a client has to send a complete request head."""
LINGER_S = 2.0
"""Seconds a closing connection keeps dropping what the client still sends (see above)."""

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 33\r\n\r\nthe request head did not arrive.\n"
)


class HeadTimeoutH11(H11Protocol):
    """`H11Protocol` that closes connections whose request head does not arrive in time."""

    head_timeout: float = HEAD_TIMEOUT_S

    _head_timer: asyncio.TimerHandle | None = None
    _lingering: bool = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Lingering(transport, self))  # type: ignore[arg-type]
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # the response is out; drop the rest of the request
            return
        super().data_received(data)
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._lingering = False
        super().connection_lost(exc)

    def _still_sending(self) -> bool:
        """Whether request bytes may still be on their way (a body not read to its end)."""
        return self.conn.their_state is h11.SEND_BODY

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn's keep-alive timer now guards the idle connection.
        self._cancel_head_timer()

    def _watch_head(self) -> None:
        # h11 keeps the client in IDLE until a whole request head has been parsed.
        waiting = self.conn.their_state is h11.IDLE and (
            self.cycle is None or self.cycle.response_complete
        )
        if self.transport.is_closing():
            self._cancel_head_timer()
        elif waiting and self._head_timer is None and self.timeout_keep_alive_task is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._on_head_timeout)
        elif not waiting:
            self._cancel_head_timer()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _on_head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        partial, _closed = self.conn.trailing_data
        if partial:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()


class _Lingering:
    """The connection's transport, closing lingeringly while request bytes still arrive."""

    def __init__(self, transport: asyncio.Transport, protocol: HeadTimeoutH11) -> None:
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self._protocol._lingering or self._transport.is_closing()

    def close(self) -> None:
        proto, transport = self._protocol, self._transport
        if proto._lingering or transport.is_closing():
            proto._lingering = False
            transport.close()
            return
        if not proto._still_sending() or not transport.can_write_eof():
            transport.close()
            return
        proto._lingering = True
        transport.write_eof()  # the response (already written) then a FIN
        proto.flow.resume_reading()  # uvicorn pauses reading a large body: drain it
        proto.loop.call_later(LINGER_S, transport.close)


def with_head_timeout(seconds: float) -> type[HeadTimeoutH11]:
    """A `HeadTimeoutH11` subclass with its own deadline (uvicorn takes a protocol class)."""
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"request_timeout must be a finite number > 0, got {seconds!r}")
    return type("HeadTimeoutH11", (HeadTimeoutH11,), {"head_timeout": float(seconds)})
