"""The raw record of a reply: what went over the wire, with the key redacted (``reply.raw``).

* :class:`Attempt`: one POST: method, URL without credentials or query, the request headers
  with every secret header as ``***``, the JSON body as sent, the status and the response
  headers (``set-cookie`` as ``***``).
* :class:`RawEvent`: one SSE event as the decoder framed it (event name and data), with its
  arrival time in seconds after the request was sent. A sync (JSON) reply is one event named
  ``json`` holding the body.
* :class:`Raw`: the attempts, the events (capped: the first :data:`EVENTS_HEAD` and the last
  :data:`EVENTS_TAIL`), ``event_count`` and ``bytes`` (every event and body byte, kept or not);
  :meth:`Raw.curl` is the request as a ``curl`` command with ``$SPELLBOOK_API_KEY`` /
  ``$OPENAI_API_KEY`` in place of the key.

It lives in the kernel only: :class:`~nbchat.Reply` keeps it out of its ``to_dict()``, the panel
sends it to the front end only when a person opens a reply's Raw view, and no store, cassette or
DataFrame holds it. The key never enters it: the stream builds it from the request's non-secret
headers, and :func:`redact_headers` masks every header that may carry a credential.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EVENTS_HEAD",
    "EVENTS_TAIL",
    "EVENT_DATA_CAP",
    "Attempt",
    "EventLog",
    "Raw",
    "RawEvent",
    "redact_headers",
]

#: Events kept from the start of a stream, and from its end.
EVENTS_HEAD = 200
EVENTS_TAIL = 50
#: Characters kept of one event's data (a longer one ends with a note of what was cut).
EVENT_DATA_CAP = 16_384
#: Headers that may carry a credential, shown as ``***`` whatever their value.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
)
MASK = "***"


def redact_headers(headers: Mapping[str, str], also: str | None = None) -> dict[str, str]:
    """The headers with every credential-bearing one (and ``also``) as ``***``."""
    secret = {also.lower()} if also else set()
    return {
        k: MASK if k.lower() in SECRET_HEADERS or k.lower() in secret else str(v)
        for k, v in headers.items()
    }


def _cap(data: str) -> str:
    if len(data) <= EVENT_DATA_CAP:
        return data
    return f"{data[:EVENT_DATA_CAP]}… [{len(data) - EVENT_DATA_CAP:,} more characters not kept]"


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One event: seconds after the request was sent, its name, its data."""

    t: float
    event: str
    data: str

    def to_dict(self) -> dict[str, Any]:
        return {"t": self.t, "event": self.event, "data": self.data}


@dataclass(frozen=True)
class Attempt:
    """One POST of the request (a retry or a fallback is another attempt)."""

    method: str
    url: str
    #: The request headers, credentials as ``***``.
    headers: dict[str, str]
    #: The JSON body as sent.
    body: Any
    #: The HTTP status, or None when no response came (connection error, cancelled).
    status: int | None = None
    response_headers: dict[str, str] | None = None
    #: Seconds after the first attempt was sent.
    sent: float = 0.0
    #: Why the attempt failed, in words (None when it got a response).
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "body": self.body,
            "status": self.status,
            "response_headers": dict(self.response_headers or {}),
            "sent": self.sent,
            "error": self.error,
        }


@dataclass(frozen=True)
class Raw:
    """What went over the wire for one reply (see the module docstring)."""

    attempts: tuple[Attempt, ...]
    #: The first EVENTS_HEAD and the last EVENTS_TAIL events.
    events: tuple[RawEvent, ...]
    #: Every event the server sent (kept or not).
    event_count: int
    #: Body bytes received.
    bytes: int
    #: The environment variable ``copy as curl`` puts in place of the key (None: no key sent).
    key_env: str | None = None
    #: (header, prefix) the key is sent with, when one was.
    auth: tuple[str, str] | None = None

    @property
    def omitted(self) -> int:
        """Events not kept (between the first EVENTS_HEAD and the last EVENTS_TAIL)."""
        return self.event_count - len(self.events)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``attempts``, ``events``, ``event_count``, ``omitted``, ``bytes``,
        ``curl``."""
        return {
            "attempts": [a.to_dict() for a in self.attempts],
            "events": [e.to_dict() for e in self.events],
            "event_count": self.event_count,
            "omitted": self.omitted,
            "bytes": self.bytes,
            "curl": self.curl(),
        }

    def curl(self) -> str:
        """The last attempt as a shell command; the key is ``$<KEY_ENV>``, never its value."""
        if not self.attempts:
            return ""
        a = self.attempts[-1]
        lines = [f"curl -N {_sh(a.url)}"]
        for name, value in a.headers.items():
            if value == MASK and self.auth and name.lower() == self.auth[0].lower():
                env = self.key_env or "API_KEY"
                lines.append(f'-H "{name}: {self.auth[1]}${env}"')
            elif value != MASK:
                lines.append(f"-H {_sh(f'{name}: {value}')}")
        body = json.dumps(a.body, ensure_ascii=False, separators=(",", ":"))
        lines.append(f"--data-raw {_sh(body)}")
        return " \\\n  ".join(lines)

    def to_text(self) -> str:
        """The record for people (``%%chat --raw``): attempts, body, events, curl."""
        out: list[str] = []
        for n, a in enumerate(self.attempts, 1):
            status = a.status if a.status is not None else (a.error or "no response")
            out.append(f"attempt {n} (+{a.sent:.3f} s): {a.method} {a.url} -> {status}")
            out += [f"  > {k}: {v}" for k, v in a.headers.items()]
            out += [f"  < {k}: {v}" for k, v in (a.response_headers or {}).items()]
            out.append("request body:")
            out.append(json.dumps(a.body, ensure_ascii=False, indent=2))
        shown = len(self.events)
        out.append(f"events: {self.event_count:,} ({shown:,} kept), {self.bytes:,} bytes")
        for i, e in enumerate(self.events):
            if i == EVENTS_HEAD and self.omitted:
                out.append(f"  … {self.omitted:,} events not kept …")
            name = "" if e.event == "message" else f"event: {e.event}  "
            out.append(f"  +{e.t:.3f} s  {name}{e.data}")
        out.append("copy as curl:")
        out.append(self.curl())
        return "\n".join(out)


def _sh(text: str) -> str:
    """Single-quoted for a POSIX shell (nothing inside is expanded)."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


class EventLog:
    """Collects a stream's events as they arrive, keeping the first and last ones.

    On the read path (one call per event): plain tuples, records built only when asked.
    """

    __slots__ = ("bytes", "count", "head", "tail")

    def __init__(self) -> None:
        self.head: list[tuple[float, str, str]] = []
        self.tail: deque[tuple[float, str, str]] = deque(maxlen=EVENTS_TAIL)
        self.count = 0
        self.bytes = 0

    def add(self, t: float, event: str, data: str) -> None:
        self.count += 1
        if len(data) > EVENT_DATA_CAP:
            data = _cap(data)
        if self.count <= EVENTS_HEAD:
            self.head.append((t, event, data))
        else:
            self.tail.append((t, event, data))

    def events(self) -> tuple[RawEvent, ...]:
        return tuple(RawEvent(round(t, 6), e, d) for t, e, d in (*self.head, *self.tail))
