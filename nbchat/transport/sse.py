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
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

__all__ = ["SSEDecoder", "ServerSentEvent", "UnknownField"]


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


_KNOWN = frozenset({"event", "data", "id", "retry"})


class SSEDecoder:
    """Turn a byte stream, fed in arbitrary pieces, into server-sent events."""

    def __init__(self) -> None:
        # Rule 1: always UTF-8, invalid bytes become U+FFFD; incremental so that a
        # character split across network chunks is decoded whole.
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""  # text not yet ending in a line terminator
        self._first = True  # rule 2: only a BOM at the very start is dropped
        self._pending_cr = False  # rule 3: a CR at a chunk end may be half of CRLF
        self._data: list[str] = []
        self._event = ""
        self._id_buffer = ""
        self.last_event_id = ""
        self.reconnection_time: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent | UnknownField]:
        """Decode ``chunk`` and return the events (and unknown fields) it completes."""
        return self._consume(self._utf8.decode(chunk, final=False))

    def close(self) -> list[ServerSentEvent | UnknownField]:
        """Signal the end of the stream.

        Rule 7: an event without its closing blank line is discarded, so a cut stream
        never yields half a payload. Only complete lines still buffered are processed.
        """
        out = self._consume(self._utf8.decode(b"", final=True))
        # What remains in the buffer is an unterminated line: it never completes.
        self._buffer = ""
        self._data = []
        self._event = ""
        return out

    def _consume(self, text: str) -> list[ServerSentEvent | UnknownField]:
        if self._first and text:
            self._first = False
            if text[0] == "\ufeff":
                text = text[1:]
        if self._pending_cr and text:
            self._pending_cr = False
            if text[0] == "\n":
                text = text[1:]
        out: list[ServerSentEvent | UnknownField] = []
        buf = self._buffer + text if self._buffer else text
        if "\r" not in buf:
            # Fast path (almost every server): only LF ends lines here.
            lines = buf.split("\n")
            self._buffer = lines.pop()
            data = self._data
            for line in lines:
                if line[:5] == "data:":
                    data.append(line[6:] if line[5:6] == " " else line[5:])
                elif not line and data and not self._event and not self._id_buffer:
                    # The common dispatch (rule 6) inline: a data-only event, no id.
                    out.append(ServerSentEvent("message", "\n".join(data)))
                    data.clear()
                    self.last_event_id = ""
                else:
                    self._line(line, out)
                    data = self._data
            return out
        start = 0
        n = len(buf)
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
            self._line(buf[start:end], out)
            start = nxt
        self._buffer = buf[start:]
        return out

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
        self._event = ""
