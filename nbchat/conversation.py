"""Plain records shared by the client, the worker, the widget and the DataFrames.

Nothing here imports anything else from nbchat.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

__all__ = ["Chunk", "Delta", "Reply", "ReplyStatus", "ToolRequest", "Usage"]

ReplyStatus = Literal["complete", "incomplete", "cancelled", "error"]


@dataclass(frozen=True)
class Usage:
    """Token counts as the server reported them. A count the server did not give is None."""

    prompt: int | None = None
    completion: int | None = None
    total: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        return {"prompt": self.prompt, "completion": self.completion, "total": self.total}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Usage | None:
        if not d:
            return None
        return cls(d.get("prompt"), d.get("completion"), d.get("total"))


@dataclass(frozen=True)
class ToolRequest:
    """A tool call the model asked for. nbchat shows it; it never executes it."""

    name: str
    arguments: str
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "id": self.id}


class Delta(NamedTuple):
    """What one decoded event contributes to a reply (the output of a backend adapter).

    A NamedTuple: one is built per streamed event, and tuples are cheap to build.
    """

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_request: ToolRequest | None = None
    #: OpenAI tool-call fragments: (index, id, name, arguments-fragment).
    tool_fragments: tuple[tuple[int, str | None, str | None, str], ...] = ()
    model: str | None = None
    done: bool = False
    error: str | None = None
    #: Server-specific extras worth keeping (llama.cpp ``timings``).
    extra: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a streamed reply, as a user iterating a Stream sees it."""

    delta: str
    usage: Usage | None = None
    finish_reason: str | None = None
    tool_request: ToolRequest | None = None


@dataclass(frozen=True)
class Reply:
    """A finished (or ended) reply.

    ``usage`` is None when the server gave none; ``ttft`` (time to first token) and
    ``latency`` are seconds from sending the request. ``error`` is the message when
    ``status`` is ``"error"`` or ``"incomplete"``.
    """

    content: str
    role: str = "assistant"
    finish_reason: str | None = None
    usage: Usage | None = None
    status: ReplyStatus = "complete"
    model: str | None = None
    tool_request: ToolRequest | None = None
    ttft: float | None = None
    latency: float | None = None
    error: str | None = None
    api: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float | None:
        """Completion tokens per second of generation (after the first token)."""
        if self.usage is None or self.usage.completion is None:
            return None
        if self.latency is None:
            return None
        span = self.latency - (self.ttft or 0.0)
        if span <= 0:
            return None
        return self.usage.completion / span

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["usage"] = self.usage.to_dict() if self.usage else None
        d["tool_request"] = self.tool_request.to_dict() if self.tool_request else None
        return d

    def to_message(self) -> dict[str, str]:
        """The message to append to the history for the next turn."""
        content = self.content
        if not content and self.tool_request is not None:
            content = json.dumps(self.tool_request.to_dict())
        return {"role": "assistant", "content": content}


# ---- the panel's message records (the ``messages`` trait, the history DataFrame) -----

#: Reply.status -> the status a person reads under the message.
MESSAGE_STATUS = {
    "complete": "complete",
    "cancelled": "stopped",
    "incomplete": "interrupted",
    "error": "error",
}


def now_iso() -> str:
    """The current time, timezone-aware, as ISO 8601."""
    import datetime as _dt

    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def new_id() -> str:
    import uuid

    return uuid.uuid4().hex


def user_message(
    text: str, *, model: str | None, api: str | None, params: dict[str, Any]
) -> dict[str, Any]:
    """A user entry of the ``messages`` trait."""
    return {
        "id": new_id(),
        "role": "user",
        "content": text,
        "status": "complete",
        "model": model,
        "api": api,
        "params": dict(params),
        "usage": None,
        "ttft": None,
        "latency": None,
        "tokens_per_second": None,
        "finish_reason": None,
        "error": None,
        "created_at": now_iso(),
        "request_id": None,
        "tool_request": None,
    }


def assistant_message(
    reply: Reply,
    *,
    message_id: str,
    request_id: str,
    created_at: str,
    model: str | None,
    params: dict[str, Any],
) -> dict[str, Any]:
    """The assistant entry of the ``messages`` trait for a finished (or ended) reply."""
    return {
        "id": message_id,
        "role": "assistant",
        "content": reply.content,
        "status": MESSAGE_STATUS[reply.status],
        "model": reply.model or model,
        "api": reply.api,
        "params": dict(params),
        "usage": reply.usage.to_dict() if reply.usage else None,
        "ttft": reply.ttft,
        "latency": reply.latency,
        "tokens_per_second": reply.tokens_per_second,
        "finish_reason": reply.finish_reason,
        "error": reply.error,
        "created_at": created_at,
        "request_id": request_id,
        "tool_request": reply.tool_request.to_dict() if reply.tool_request else None,
    }
