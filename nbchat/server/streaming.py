"""How the embedded server streams: paced SSE events with mid-stream faults, and the
deliberate connection drops of fault ``drop`` (kept out of uvicorn's error log)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator

from nbchat.server import faults
from nbchat.server.demo_model import Reply
from nbchat.server.wire import Wire

__all__ = [
    "SSE_TYPE",
    "ConnectionDropped",
    "half_then_drop",
    "install_log_filter",
    "split_reply",
    "stream_events",
]

SSE_TYPE = "text/event-stream; charset=utf-8"


class ConnectionDropped(Exception):
    """Raised inside a response body to abort the connection (fault ``drop``)."""


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


def install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


def split_reply(reply: Reply, size: int) -> Reply:
    """The same reply cut into pieces of exactly `size` characters (option ``split``)."""
    text = reply.text
    pieces = tuple(text[i : i + size] for i in range(0, len(text), size))
    return dataclasses.replace(reply, pieces=pieces)


async def half_then_drop(body: bytes) -> AsyncIterator[bytes]:
    yield body[: len(body) // 2]
    await asyncio.sleep(0.05)
    raise ConnectionDropped("fault=drop")


async def stream_events(
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
