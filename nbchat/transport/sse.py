"""An incremental Server-Sent Events decoder that follows the WHATWG rules.

https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

Why not sseclient-py: sseclient-py 1.9.0 fails vectors T15 (it keeps a leading BOM), T17 and
T18 (it dispatches an unterminated last event, so a cut stream yields half a JSON payload), T28
(invalid UTF-8 raises ``UnicodeDecodeError``) and T23 (``retry`` kept as a raw string), and it
drops unknown fields, so llama.cpp's ``error:`` lines (chat vector A06) cannot be seen on top of
it. ``tests/transport/test_sse_vectors.py`` runs sseclient-py over the same vectors and asserts
that it still fails them, so this choice is re-checked on every upgrade.

The decoder is a pure state machine: ``feed(bytes)`` returns the events completed by those
bytes, ``close()`` signals the end of the stream. Unknown fields are reported as
:class:`UnknownField` items in the same output list, so their order relative to events is kept.

Cost. Text that ends no line is only buffered (pieces are joined once, when the line ends),
so a long line costs time linear in its length; a line or an event longer than ``max_size``
characters (16 MiB by default) raises :class:`EventTooLarge`, so a server that never ends a
line cannot make the client grow without bound. The usual stream (LF line ends, events made
of one ``data:`` line) is cut at blank lines with ``str.split`` and each event is taken
whole; anything else goes line by line through the full rules.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

__all__ = ["MAX_SIZE", "EventTooLarge", "SSEDecoder", "ServerSentEvent", "UnknownField"]

#: Longest line, and longest event data, the decoder accepts (in decoded characters).
MAX_SIZE = 16 * 1024 * 1024


# NamedTuples, not dataclasses: one is made per event on the hot path, and a tuple is
# several times cheaper to build than a frozen dataclass.
class ServerSentEvent(NamedTuple):
    """A dispatched event: its type, its data (final LF removed) and the last event ID."""

    event: str
    data: str
    id: str = ""


class UnknownField(NamedTuple):
    """A field line the spec ignores (for example llama.cpp's ``error: {...}``)."""

    name: str
    value: str


class EventTooLarge(ValueError):
    """A line or an event's data is longer than the decoder's limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"an SSE line or event is longer than the limit of {_size(limit)}")


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    return f"{n:,} characters"


# A tuple subclass is built without the NamedTuple's Python-level __new__ (about half the
# cost): ``_new(ServerSentEvent, (event, data, id))``.
_new = tuple.__new__


class SSEDecoder:
    """Turn a byte stream, fed in arbitrary pieces, into server-sent events."""

    def __init__(self, max_size: int = MAX_SIZE) -> None:
        # Rule 1: always UTF-8, invalid bytes become U+FFFD; incremental so that a
        # character split across network chunks is decoded whole.
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        self.max_size = max_size
        self._pending: list[str] = []  # text of the unfinished line, in pieces
        self._pending_len = 0
        self._first = True  # rule 2: only a BOM at the very start is dropped
        self._pending_cr = False  # rule 3: a CR at a chunk end may be half of CRLF
        self._data: list[str] = []
        self._data_len = 0
        self._event = ""
        self._id_buffer = ""
        self.last_event_id = ""
        self.reconnection_time: int | None = None
        self._too_large: EventTooLarge | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent | UnknownField]:
        """Decode ``chunk`` and return the events (and unknown fields) it completes.

        Raises :class:`EventTooLarge` when a line or an event outgrows ``max_size``; the
        events completed before that line are returned first, and the next call raises.
        """
        return self._run(self._decode(chunk, False))

    def close(self) -> list[ServerSentEvent | UnknownField]:
        """Signal the end of the stream.

        Rule 7: an event without its closing blank line is discarded, so a cut stream
        never yields half a payload. Only complete lines still buffered are processed.
        """
        out = self._run(self._decode(b"", True))
        # What remains in the buffer is an unterminated line: it never completes.
        self._pending = []
        self._pending_len = 0
        self._data = []
        self._data_len = 0
        self._event = ""
        return out

    def _run(self, text: str) -> list[ServerSentEvent | UnknownField]:
        if self._too_large is not None:
            raise self._too_large
        out: list[ServerSentEvent | UnknownField] = []
        try:
            self._consume(text, out)
        except EventTooLarge as exc:
            if not out:
                raise
            self._too_large = exc  # hand over the events before the long line first
        return out

    def _consume(self, text: str, out: list[ServerSentEvent | UnknownField]) -> None:
        if not text:
            return
        if self._first:
            self._first = False
            if text[0] == "\ufeff":
                text = text[1:]
        if self._pending_cr:
            self._pending_cr = False
            if text[:1] == "\n":
                text = text[1:]
        if "\n" not in text and "\r" not in text:
            # No line ends here: keep the piece. Joining only when a line ends keeps a
            # long line linear in its length (re-joining per chunk was quadratic).
            if text:
                self._pending_len += len(text)
                if self._pending_len > self.max_size:
                    raise EventTooLarge(self.max_size)
                self._pending.append(text)
            return
        if self._pending:
            self._pending.append(text)
            buf = "".join(self._pending)
            self._pending = []
            self._pending_len = 0
        else:
            buf = text
        if "\r" in buf or len(buf) > self.max_size:
            self._lines(buf, out)
            return
        # Rule 3 with LF only (almost every server): an event is the text before "\n\n".
        # A block of one "data:" line is the usual event; any other block goes through
        # the line rules, followed by the blank line that ends it.
        blocks = buf.split("\n\n")
        rest = blocks.pop()
        clean = not self._data and not self._event
        ident = self._id_buffer
        fast = False
        for block in blocks:
            if clean and block[:6] == "data: " and "\n" not in block:
                out.append(_new(ServerSentEvent, ("message", block[6:], ident)))
                fast = True
                continue
            if fast:
                self.last_event_id = ident
                fast = False
            line = self._line
            for ln in block.split("\n"):
                line(ln, out)
            self._dispatch(out)
            clean = True  # a dispatch leaves no data and no type
            ident = self._id_buffer
        if fast:
            self.last_event_id = ident
        if rest:
            *complete, last = rest.split("\n")
            for ln in complete:
                self._line(ln, out)
            if last:
                if len(last) > self.max_size:
                    raise EventTooLarge(self.max_size)
                self._pending = [last]
                self._pending_len = len(last)

    def _lines(self, buf: str, out: list[ServerSentEvent | UnknownField]) -> None:
        """The general line loop: CR, LF and CRLF line ends, line lengths checked."""
        start = 0
        n = len(buf)
        limit = self.max_size
        while start < n:
            # Rule 3: lines end at CRLF, LF or CR, and only these (never str.splitlines).
            lf = buf.find("\n", start)
            cr = buf.find("\r", start, lf if lf != -1 else n)
            if cr != -1:
                end, nxt = cr, cr + 1
                if nxt < n and buf[nxt] == "\n":
                    nxt += 1
                elif nxt == n:
                    self._pending_cr = True
            elif lf != -1:
                end, nxt = lf, lf + 1
            else:
                break
            if end - start > limit:
                raise EventTooLarge(limit)
            self._line(buf[start:end], out)
            start = nxt
        if start < n:
            if n - start > limit:
                raise EventTooLarge(limit)
            self._pending = [buf[start:]]
            self._pending_len = n - start

    def _line(self, line: str, out: list[ServerSentEvent | UnknownField]) -> None:
        if not line:
            self._dispatch(out)
            return
        if line[0] == ":":  # rule 4: comment (keep-alive)
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]  # only ONE leading space is stripped
        if name == "data":
            self._data_len += len(value) + 1
            if self._data_len > self.max_size:
                raise EventTooLarge(self.max_size)
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id_buffer = value
        elif name == "retry":
            if value and value.isascii() and value.isdigit():
                self.reconnection_time = int(value)
        else:
            out.append(UnknownField(name, value))

    def _dispatch(self, out: list[ServerSentEvent | UnknownField]) -> None:
        # Rule 6.
        self.last_event_id = self._id_buffer
        if not self._data:
            self._event = ""
            return
        out.append(
            ServerSentEvent(self._event or "message", "\n".join(self._data), self.last_event_id)
        )
        self._data = []
        self._data_len = 0
        self._event = ""
