"""The records every layer shares, and the one table of generation parameters.

* :class:`Usage`, :class:`ToolRequest`, :class:`Delta`, :class:`Chunk`, :class:`Reply`: what a
  backend adapter decodes, what a stream yields, what a turn ends with.
* :class:`Message`: **the** shape of one conversation message. The panel's synced state, the
  history DataFrame, the JSON save format and ``js/src/types.d.ts`` are derived from its fields
  (``tests/test_records.py`` checks the TypeScript side field by field).
* :data:`PARAMS`: **the** generation parameters: name, type, check and wire name per API. The
  client, the backends, the panel's settings, the DataFrames and ``%%chat`` all read it (it
  lives in ``nbchat.params``, re-exported here).

Nothing here imports anything else from nbchat (but the parameter table, the raw record of
``nbchat.raw``, and the exception types, lazily).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from nbchat.params import PARAM_NAMES, PARAMS, Param, check_params
from nbchat.raw import Raw

__all__ = [
    "MESSAGE_FIELDS",
    "MESSAGE_STATUS",
    "PARAMS",
    "PARAM_NAMES",
    "Chunk",
    "Delta",
    "Message",
    "MessageStatus",
    "Param",
    "Reply",
    "ReplyStatus",
    "ToolRequest",
    "Usage",
    "check_params",
    "new_id",
    "now_iso",
]

ReplyStatus = Literal["complete", "incomplete", "cancelled", "error"]
MessageStatus = Literal["complete", "stopped", "interrupted", "error"]
Role = Literal["user", "assistant", "system"]


@dataclass(frozen=True)
class Usage:
    """Token counts as the server reported them. A count the server did not give is None."""

    prompt: int | None = None
    completion: int | None = None
    total: int | None = None
    #: Prompt tokens served from the provider's cache (part of ``prompt``; OpenAI's
    #: ``prompt_tokens_details.cached_tokens``), priced apart; None when not reported.
    cached: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        """``prompt``, ``completion``, ``total``, and ``cached`` when the server reported it."""
        d = {"prompt": self.prompt, "completion": self.completion, "total": self.total}
        return d if self.cached is None else {**d, "cached": self.cached}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Usage | None:
        if not d:
            return None
        return cls(d.get("prompt"), d.get("completion"), d.get("total"), d.get("cached"))


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
    ``status`` is ``"error"`` or ``"incomplete"``. ``cost`` is USD (None when unknown, never
    0 for unknown; ``price_source`` says where the price came from, and as of when);
    ``request_bytes`` the size of the JSON body sent; ``raw`` what went over the wire
    (:class:`~nbchat.raw.Raw`, kernel only: not in ``to_dict()``, repr or comparisons).
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
    cost: float | None = None
    price_source: str | None = None
    request_bytes: int | None = None
    raw: Raw | None = field(default=None, repr=False, compare=False)
    #: Every tool call the model asked for, in order (OpenAI's ``tool_calls``; EGP's one
    #: ``tool_request``). ``tool_request`` is the first of them.
    tool_calls: tuple[ToolRequest, ...] = ()

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
        d = dataclasses.asdict(dataclasses.replace(self, raw=None))
        del d["raw"]  # kernel only (nbchat.raw)
        d["usage"] = self.usage.to_dict() if self.usage else None
        d["tool_request"] = self.tool_request.to_dict() if self.tool_request else None
        d["tool_calls"] = [t.to_dict() for t in self.tool_calls]
        return d

    def to_message(self) -> dict[str, str]:
        """The message to append to the history for the next turn."""
        content = self.content
        if not content and self.tool_request is not None:
            content = json.dumps(self.tool_request.to_dict())
        return {"role": "assistant", "content": content}


# ---- the conversation's message record -------------------------------------------------

#: Reply.status -> the status a person reads under the message.
MESSAGE_STATUS: dict[str, MessageStatus] = {
    "complete": "complete",
    "cancelled": "stopped",
    "incomplete": "interrupted",
    "error": "error",
}


def now_iso() -> str:
    """The current time, timezone-aware, as ISO 8601."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation: the record the panel syncs, the DataFrames read and
    the JSON save format holds (as :meth:`to_dict`). Unknown values are None, never zero.
    """

    id: str
    #: ``user``, ``assistant`` or ``system``.
    role: Role
    content: str
    #: ``complete``, ``stopped``, ``interrupted`` or ``error``.
    status: MessageStatus
    model: str | None
    api: str | None
    #: The generation parameters (and ``system``) the message was sent with.
    params: dict[str, Any]
    #: ``{"prompt", "completion", "total"}`` as the server reported them, or None.
    usage: dict[str, int | None] | None
    ttft: float | None
    latency: float | None
    tokens_per_second: float | None
    finish_reason: str | None
    error: str | None
    #: ISO 8601, UTC.
    created_at: str
    request_id: str | None
    tool_request: dict[str, Any] | None
    #: The message this one follows (None: first); ``branches``: ids of its versions, or None.
    parent_id: str | None = None
    branches: list[str] | None = None
    #: USD, None when unknown (no price, or no usage reported).
    cost: float | None = None
    #: Size of the JSON request body sent (the whole re-sent history), in bytes.
    request_bytes: int | None = None
    #: Where ``cost``'s price came from, and as of when (for people).
    price_source: str | None = None
    #: Every tool call of the reply (``ToolRequest.to_dict()``), in order; None when none.
    tool_calls: list[dict[str, Any]] | None = None

    @classmethod
    def user(
        cls, text: str, *, model: str | None, api: str | None, params: Mapping[str, Any]
    ) -> Message:
        """A user message, sent with ``params``."""
        return cls(
            id=new_id(),
            role="user",
            content=text,
            status="complete",
            model=model,
            api=api,
            params=dict(params),
            usage=None,
            ttft=None,
            latency=None,
            tokens_per_second=None,
            finish_reason=None,
            error=None,
            created_at=now_iso(),
            request_id=None,
            tool_request=None,
        )

    @classmethod
    def from_reply(
        cls,
        reply: Reply,
        *,
        message_id: str,
        request_id: str,
        created_at: str,
        model: str | None,
        params: Mapping[str, Any],
    ) -> Message:
        """The assistant message for a finished (or ended) reply."""
        return cls(
            id=message_id,
            role="assistant",
            content=reply.content,
            status=MESSAGE_STATUS[reply.status],
            model=reply.model or model,
            api=reply.api,
            params=dict(params),
            usage=reply.usage.to_dict() if reply.usage else None,
            ttft=reply.ttft,
            latency=reply.latency,
            tokens_per_second=reply.tokens_per_second,
            finish_reason=reply.finish_reason,
            error=reply.error,
            created_at=created_at,
            request_id=request_id,
            tool_request=reply.tool_request.to_dict() if reply.tool_request else None,
            cost=reply.cost,
            request_bytes=reply.request_bytes,
            price_source=reply.price_source,
            tool_calls=[t.to_dict() for t in reply.tool_calls] or None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The plain dict (JSON-ready) the panel syncs and saves."""
        return {f: getattr(self, f) for f in MESSAGE_FIELDS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Message:
        """A message from its dict; keys it lacks are None (plain role/content dicts too)."""
        values: dict[str, Any] = {f: d.get(f) for f in MESSAGE_FIELDS}
        values["params"] = dict(values["params"] or {})
        values["content"] = "" if values["content"] is None else values["content"]
        values["status"] = values["status"] or "complete"
        values["id"] = values["id"] or new_id()
        values["created_at"] = values["created_at"] or now_iso()
        return cls(**values)


#: The fields of :class:`Message`, in order: the keys of every message dict.
MESSAGE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Message))
