"""The accumulator: decoded events in, one :class:`~nbchat.records.Reply` out.

The only place a reply is assembled, for every caller (streams, sync replies, the panel's
worker, ``%%chat``, batch runs). Pure: no I/O, no threads; the clock is injected.

* :func:`decode_event` turns the data of one SSE event into a :class:`Delta`, ``DONE``
  or ``None`` (nothing to apply), and raises :class:`EventError` for an error event or a
  malformed chunk (PROTOCOL.md 5.4).
* :class:`Accumulator` folds deltas: text, the last usage (never summed), the finish
  reason, the server's model name, extras, and OpenAI tool-call fragments merged by index.
  :meth:`Accumulator.complete` says whether a clean end of body is a complete reply (the
  per-API rule), and :meth:`Accumulator.reply` ends it with a status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Final

import orjson

from nbchat.backends.base import Backend
from nbchat.backends.errors import event_error_message, message_from_json
from nbchat.records import Chunk, Delta, Reply, ReplyStatus, ToolRequest, Usage

__all__ = ["DONE", "Accumulator", "EventError", "decode_event", "decode_sync"]


class _Done:
    def __repr__(self) -> str:
        return "DONE"


#: ``data: [DONE]``: the OpenAI end-of-stream marker.
DONE: Final = _Done()

#: What an adapter may raise on JSON of the wrong shape: a malformed chunk, never a crash.
MALFORMED = (ValueError, TypeError, AttributeError, LookupError, ArithmeticError, RecursionError)


class EventError(Exception):
    """An event the server sent to say it failed, or one that cannot be read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decode_event(backend: Backend, data: str, event: str = "message") -> Delta | _Done | None:
    """One SSE event's data as a Delta; ``DONE``; or None for an empty event."""
    if event == "error":
        raise EventError(event_error_message(data))
    if data[:1] != "{":  # the usual JSON object skips these checks
        stripped = data.strip()
        if not stripped:
            return None
        if stripped == "[DONE]":
            return DONE
    obj = loads_event(data)
    if type(obj) is dict and obj.get("error"):
        raise EventError(message_from_json(obj) or "error event")
    try:
        return backend.parse_event(obj)
    except MALFORMED as exc:
        raise EventError(f"malformed chunk from the server ({exc}): {data[:200]!r}") from None


def loads_event(data: str) -> Any:
    """An event's JSON: orjson (about 4x faster than json), json where orjson refuses.

    orjson is stricter than json on NaN and Infinity, integers past 64 bits and lone
    surrogates; json then decides, so what is accepted is exactly what json accepts.
    """
    try:
        return _orjson_loads(data)
    except _OrjsonError:
        pass
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise EventError(f"malformed chunk from the server: {data[:200]!r}") from None


_orjson_loads = orjson.loads
_OrjsonError = orjson.JSONDecodeError


def decode_sync(backend: Backend, body: bytes) -> Delta:
    """A whole JSON reply body as one Delta (a sync reply, or a JSON answer to a stream)."""
    try:
        obj = json.loads(body.decode("utf-8", errors="replace"))
        if isinstance(obj, dict) and obj.get("error"):
            raise EventError(message_from_json(obj) or "error")
        return backend.parse_sync(obj)
    except MALFORMED as exc:
        raise EventError(f"malformed response: {exc}: {body[:200]!r}") from None


# A text-only Chunk built through its slots: the frozen dataclass's __init__ costs twice as
# much (four object.__setattr__ calls), once per streamed event. A field added to Chunk must
# be set here too (tests/backends/test_fast_paths.py compares the result with Chunk(text)).
_chunk_new = object.__new__
_chunk_slots = tuple(
    Chunk.__dict__[name].__set__ for name in ("delta", "usage", "finish_reason", "tool_request")
)


class Accumulator:
    """Folds the deltas of one reply. ``started`` is the clock value the request was sent at."""

    __slots__ = (
        "_backend",
        "_clock",
        "_extra",
        "_finish",
        "_model",
        "_parse_event",
        "_parts",
        "_server_model",
        "_tool",
        "_tools",
        "_ttft",
        "_usage",
        "events",
        "saw_done",
        "started",
    )

    def __init__(
        self,
        backend: Backend,
        model: str,
        *,
        started: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backend = backend
        self._parse_event = backend.parse_event
        self._model = model
        self._clock = clock
        self.started = clock() if started is None else started
        self._parts: list[str] = []
        self._usage: Usage | None = None
        self._finish: str | None = None
        self._tool: ToolRequest | None = None
        self._tools: dict[int, list[Any]] = {}
        self._extra: dict[str, Any] = {}
        self._server_model: str | None = None
        self._ttft: float | None = None
        #: Events applied (``[DONE]`` included); zero means the server sent nothing usable.
        self.events = 0
        self.saw_done = False

    @property
    def text(self) -> str:
        """The text so far."""
        return "".join(self._parts)

    def done(self) -> None:
        """The server said the stream is over (``[DONE]``)."""
        self.events += 1
        self.saw_done = True

    def add_event(self, data: str, event: str = "message") -> Chunk | None:
        """Decode one SSE event (:func:`decode_event`) and apply it; ``[DONE]`` ends it."""
        if event == "message":
            # The usual event, inline: the same steps as decode_event, one call less each
            # (data that orjson refuses, or that is not an object, goes to decode_event).
            try:
                obj = _orjson_loads(data)
            except _OrjsonError:
                obj = None  # decode_event decides (json is more lenient)
            if type(obj) is dict and not obj.get("error"):
                try:
                    delta = self._parse_event(obj)
                except MALFORMED:
                    pass  # decode_event raises the error for it
                else:
                    return self.add(delta)
        decoded = decode_event(self._backend, data, event)
        if decoded is DONE:
            self.done()
        elif isinstance(decoded, Delta):
            return self.add(decoded)
        return None

    def add(self, delta: Delta) -> Chunk | None:
        """Apply one delta; returns the Chunk a stream's reader sees, or None."""
        self.events += 1
        text, finish, usage, tool, fragments, model, extra = delta
        if finish is None and usage is None and tool is None and not fragments and not extra:
            # The usual streamed event: text and nothing else.
            if model:
                self._server_model = model
            if not text:
                return None
            if self._ttft is None:
                self._ttft = self._clock() - self.started
            self._parts.append(text)
            # A text-only Chunk, built through its slots (see _chunk_slots).
            chunk: Chunk = _chunk_new(Chunk)
            set_delta, set_usage, set_finish, set_tool = _chunk_slots
            set_delta(chunk, text)
            set_usage(chunk, None)
            set_finish(chunk, None)
            set_tool(chunk, None)
            return chunk
        if delta.usage is not None:
            self._usage = delta.usage  # the last non-null value; never summed
        if delta.finish_reason is not None:
            self._finish = delta.finish_reason
        if delta.model:
            self._server_model = delta.model
        if delta.extra:
            self._extra.update(delta.extra)
        if delta.tool_request is not None:
            self._tool = delta.tool_request
        for index, call_id, name, args in delta.tool_fragments:
            slot = self._tools.setdefault(index, [None, "", ""])
            slot[0] = slot[0] or call_id
            slot[1] = slot[1] or (name or "")
            slot[2] += args
        if delta.tool_fragments:
            cid, name, args = self._tools[min(self._tools)]
            self._tool = ToolRequest(name, args, cid)
        if text:
            if self._ttft is None:
                self._ttft = self._clock() - self.started
            self._parts.append(text)
        if text or delta.usage or delta.finish_reason or delta.tool_request:
            return Chunk(text, delta.usage, delta.finish_reason, delta.tool_request)
        return None

    def tool_calls(self) -> tuple[ToolRequest, ...]:
        """Every tool call so far, in index order (OpenAI); EGP's one tool request."""
        if self._tools:
            return tuple(
                ToolRequest(n, a, c) for c, n, a in (self._tools[i] for i in sorted(self._tools))
            )
        return (self._tool,) if self._tool is not None else ()

    def complete(self) -> bool:
        """Whether a clean end of body now is a complete reply (the API's rule)."""
        return self._backend.is_complete(self.saw_done, self._finish is not None)

    def reply(self, status: ReplyStatus, error: str | None = None) -> Reply:
        """The reply, ended with ``status`` (the text so far is always kept)."""
        return Reply(
            content=self.text,
            role="assistant",
            finish_reason=self._finish,
            usage=self._usage,
            status=status,
            model=self._server_model or self._model,
            tool_request=self._tool,
            tool_calls=self.tool_calls(),
            ttft=self._ttft,
            latency=self._clock() - self.started,
            error=error,
            api=self._backend.name,
            extra=dict(self._extra),
        )
