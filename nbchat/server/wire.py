"""Response bodies and SSE events of both wire formats (PROTOCOL.md §2.2, §2.4, §3.2, §3.3).

A `Wire` turns a `~nbchat.server.demo_model.Reply` into a sync JSON body or
into the sequence of SSE events for a stream: `Wire.head` (events before the
first token), `Wire.piece` (one event per token piece) and `Wire.tail` (events
after the last piece).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from nbchat.server.demo_model import Reply

__all__ = ["EgpWire", "JSONBody", "OpenAIWire", "Wire", "dumps", "sse"]


_LINE_LIKE = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def dumps(payload: object) -> bytes:
    """Encode JSON as UTF-8, escaping U+2028, U+2029 and U+0085.

    Those characters are valid raw inside JSON strings, but naive line splitters
    (``str.splitlines``, ``requests.Response.iter_lines``) break lines at them.
    """
    return json.dumps(payload, ensure_ascii=False).translate(_LINE_LIKE).encode()


class JSONBody(JSONResponse):
    """A JSON response encoded with `dumps` (same escaping as the stream events)."""

    def render(self, content: Any) -> bytes:
        """Encode `content`."""
        return dumps(content)


def sse(payload: object) -> bytes:
    """Encode one ``data:`` event (JSON, UTF-8, blank-line terminated)."""
    return b"data: " + dumps(payload) + b"\n\n"


@dataclass(frozen=True)
class Wire:
    """Base class: the shapes of one API for one request.

    Attributes
    ----------
    reply : Reply
        The generated reply.
    model : str
        The model name to report (without options).
    """

    reply: Reply
    model: str

    def sync_body(self) -> dict[str, Any]:
        """Return the JSON body of a non-streaming reply."""
        raise NotImplementedError

    def head(self) -> list[bytes]:
        """Return the events sent before the first token."""
        return []

    def piece(self, index: int) -> bytes:
        """Return the event carrying token piece `index`."""
        raise NotImplementedError

    def tail(self) -> list[bytes]:
        """Return the events sent after the last token."""
        raise NotImplementedError


class EgpWire(Wire):
    """EGP / Spellbook: ``chat_completion`` envelope; usage on the last event; no ``[DONE]``."""

    def _usage(self) -> dict[str, int]:
        r = self.reply
        return {
            "prompt": r.prompt_tokens,
            "completion": r.completion_tokens,
            "total": r.total_tokens,
        }

    def sync_body(self) -> dict[str, Any]:
        """Return ``{"chat_completion": {...}, "token_usage": {...}}``."""
        message = {"role": "agent", "content": self.reply.text, "tool_request": None}
        return {
            "chat_completion": {"message": message, "finish_reason": self.reply.finish_reason},
            "token_usage": self._usage(),
        }

    def _event(self, content: str, last: bool) -> bytes:
        return sse(
            {
                "chat_completion": {
                    "message": {"role": "agent", "content": content},
                    "finish_reason": self.reply.finish_reason if last else None,
                },
                "token_usage": self._usage() if last else None,
            }
        )

    def piece(self, index: int) -> bytes:
        """Return a delta event; the last piece also carries finish reason and usage."""
        return self._event(self.reply.pieces[index], index == len(self.reply.pieces) - 1)

    def tail(self) -> list[bytes]:
        """Return nothing, or one empty final event when the reply has no pieces."""
        return [] if self.reply.pieces else [self._event("", True)]


@dataclass(frozen=True)
class OpenAIWire(Wire):
    """OpenAI chat completions: role chunk, content chunks, finish chunk, usage, ``[DONE]``.

    Attributes
    ----------
    ident : str
        The ``id`` of the completion.
    created : int
        Unix time of the ``created`` field.
    include_usage : bool
        Send the extra ``choices: []`` usage chunk.
    """

    ident: str = "chatcmpl-demo"
    created: int = 0
    include_usage: bool = False

    def _usage(self) -> dict[str, int]:
        r = self.reply
        return {
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "total_tokens": r.total_tokens,
        }

    def _base(self, kind: str) -> dict[str, Any]:
        return {"id": self.ident, "object": kind, "created": self.created, "model": self.model}

    def sync_body(self) -> dict[str, Any]:
        """Return the ``chat.completion`` object."""
        message = {"role": "assistant", "content": self.reply.text, "refusal": None}
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": self.reply.finish_reason,
            "logprobs": None,
        }
        return {**self._base("chat.completion"), "choices": [choice], "usage": self._usage()}

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse({**self._base("chat.completion.chunk"), "choices": [choice], "usage": None})

    def head(self) -> list[bytes]:
        """Return the first chunk: role ``assistant`` and empty content."""
        return [self._chunk({"role": "assistant", "content": ""}, None)]

    def piece(self, index: int) -> bytes:
        """Return a content chunk."""
        return self._chunk({"content": self.reply.pieces[index]}, None)

    def tail(self) -> list[bytes]:
        """Return the finish chunk, the optional usage chunk and ``[DONE]``."""
        events = [self._chunk({}, self.reply.finish_reason)]
        if self.include_usage:
            usage = {**self._base("chat.completion.chunk"), "choices": [], "usage": self._usage()}
            events.append(sse(usage))
        events.append(b"data: [DONE]\n\n")
        return events
