"""The store's tables and how a message dict becomes a row and back (``nbchat.data.store``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from nbchat.records import MESSAGE_FIELDS, new_id, now_iso

__all__ = ["COLUMNS", "INSERT", "UPSERT_CONVERSATION", "message_from_row", "row", "statements"]

#: Message columns, in order (``params`` and ``tool_request`` hold JSON).
COLUMNS = (
    "id",
    "conversation_id",
    "parent_id",
    "role",
    "content",
    "status",
    "model",
    "api",
    "params",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "ttft",
    "latency",
    "tokens_per_second",
    "finish_reason",
    "error",
    "created_at",
    "request_id",
    "tool_request",
    "notebook",
    "source",
    "extra",
)
#: Message fields with a column of their own (usage is spread over the three token counts;
#: ``branches`` is derived from the tree). Any other field is kept in ``extra`` (JSON).
_COVERED = {*COLUMNS, "usage", "branches"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    active_leaf TEXT,
    notebook TEXT,
    source TEXT
);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    parent_id TEXT,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    status TEXT,
    model TEXT,
    api TEXT,
    params TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    ttft REAL,
    latency REAL,
    tokens_per_second REAL,
    finish_reason TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    request_id TEXT,
    tool_request TEXT,
    notebook TEXT,
    source TEXT,
    extra TEXT
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages (conversation_id, created_at);
CREATE INDEX IF NOT EXISTS messages_created ON messages (created_at);
"""

INSERT = (
    f"INSERT OR REPLACE INTO messages ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)
UPSERT_CONVERSATION = """
INSERT INTO conversations (id, name, created_at, updated_at, active_leaf, notebook, source)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at,
    active_leaf = excluded.active_leaf, notebook = coalesce(notebook, excluded.notebook)
"""


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, allow_nan=False)


def row(
    m: Mapping[str, Any], conversation_id: str, notebook: str | None, source: str
) -> tuple[Any, ...]:
    usage = m.get("usage") or {}
    return (
        m.get("id") or new_id(),
        conversation_id,
        m.get("parent_id"),
        m.get("role") or "user",
        m.get("content") or "",
        m.get("status") or "complete",
        m.get("model"),
        m.get("api"),
        _json(dict(m.get("params") or {})),
        usage.get("prompt"),
        usage.get("completion"),
        usage.get("total"),
        m.get("ttft"),
        m.get("latency"),
        m.get("tokens_per_second"),
        m.get("finish_reason"),
        m.get("error"),
        m.get("created_at") or now_iso(),
        m.get("request_id"),
        _json(m.get("tool_request")),
        notebook,
        source,
        _json(_extra(m)),
    )


def _extra(m: Mapping[str, Any]) -> dict[str, Any] | None:
    """The fields without a column (e.g. ``cost``), and a usage dict with more than the three
    counts (e.g. ``cached``) whole; None when there are none."""
    out = {k: m[k] for k in MESSAGE_FIELDS if k not in _COVERED and m.get(k) is not None}
    usage = m.get("usage")
    if isinstance(usage, Mapping) and set(usage) - {"prompt", "completion", "total"}:
        out["usage"] = dict(usage)
    return out or None


def message_from_row(row: Sequence[Any]) -> dict[str, Any]:
    """A stored row (``COLUMNS`` order) as a message dict (``Message.to_dict()`` shape)."""
    r = dict(zip(COLUMNS, row, strict=True))
    counts = (r["prompt_tokens"], r["completion_tokens"], r["total_tokens"])
    out: dict[str, Any] = dict.fromkeys(MESSAGE_FIELDS)
    out.update(
        {
            "id": r["id"],
            "role": r["role"],
            "content": r["content"],
            "status": r["status"],
            "model": r["model"],
            "api": r["api"],
            "params": json.loads(r["params"]) if r["params"] else {},
            "usage": None
            if counts == (None, None, None)
            else dict(zip(("prompt", "completion", "total"), counts, strict=True)),
            "ttft": r["ttft"],
            "latency": r["latency"],
            "tokens_per_second": r["tokens_per_second"],
            "finish_reason": r["finish_reason"],
            "error": r["error"],
            "created_at": r["created_at"],
            "request_id": r["request_id"],
            "tool_request": json.loads(r["tool_request"]) if r["tool_request"] else None,
            "parent_id": r["parent_id"],
            "branches": None,
        }
    )
    out.update(json.loads(r["extra"]) if r["extra"] else {})
    return out


def statements() -> list[str]:
    return [s.strip() for s in _SCHEMA.split(";") if s.strip()]
