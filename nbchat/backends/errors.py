"""Provider error bodies: the server's own message, by PROTOCOL.md 2.5 and 3.4.

The transport knows statuses and bytes; what an error *says* depends on the API, so it is
read here and handed to the transport's error mapping as a function.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["body_kind", "body_message", "html_message", "message_from_json"]


def body_message(body: bytes) -> str:
    """The server's own message from an error body.

    EGP ``{"detail": ...}`` (unwrapped while it is an object; a FastAPI list becomes
    ``loc: msg`` items joined by ``; ``), OpenAI ``{"error": {"message": ...}}``, a plain
    ``error`` string, vLLM's flat ``message``; otherwise the first 200 characters of the text.
    """
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    msg = message_from_json(data) if data is not None else None
    if msg:
        return msg
    snippet = " ".join(text.split())[:200]
    return snippet or "(empty body)"


def message_from_json(data: Any) -> str | None:
    """The human message inside an error JSON value, or None if it has none."""
    if isinstance(data, str):
        return data
    if not isinstance(data, dict):
        return None
    if "detail" in data:
        detail = data["detail"]
        while isinstance(detail, dict) and "detail" in detail:
            detail = detail["detail"]
        if isinstance(detail, list):
            items = []
            for item in detail:
                if isinstance(item, dict):
                    loc = ".".join(str(x) for x in item.get("loc", []))
                    msg = str(item.get("msg", ""))
                    items.append(f"{loc}: {msg}" if loc else msg)
                else:
                    items.append(str(item))
            return "; ".join(items)
        if isinstance(detail, dict):
            return message_from_json(detail) or json.dumps(detail)
        return str(detail)
    err = data.get("error")
    if isinstance(err, dict):
        if err.get("message"):
            return str(err["message"])
        return json.dumps(err)
    if isinstance(err, str) and err:
        return err
    if data.get("message"):
        return str(data["message"])
    return None


def event_error_message(data: str) -> str:
    """The message of an SSE error event (``event: error``, llama.cpp's ``error:`` line)."""
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return data.strip()[:200] or "error event"
    return message_from_json(obj) or data.strip()[:200] or "error event"


def body_kind(body: bytes) -> str | None:
    """The machine-readable error type of an error body: OpenAI ``error.type`` / ``error.code``,
    or a ``type`` next to EGP's ``detail`` (the replay server's ``replay_mismatch``)."""
    try:
        data = json.loads(body.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    err = data.get("error")
    found = (err.get("type"), err.get("code")) if isinstance(err, dict) else (data.get("type"),)
    return next((v for v in found if isinstance(v, str) and v), None)


def html_message(where: str, head: bytes) -> str:
    """The error for a web page where a chat reply was expected: its title and first words."""
    text = head[:4096].decode("utf-8", errors="replace")
    title = re.search(r"<title[^>]*>(.*?)</title", text, re.IGNORECASE | re.DOTALL)
    start = " ".join(text.split())[:200]
    shown = f"title {' '.join(title.group(1).split())[:120]!r}, " if title else ""
    return (
        f"the server answered text/html (a web page, not a chat reply) at {where}: "
        f"{shown}starting {start!r}; check the base URL (it should end in the API's path, "
        "such as /v1 or /egp/v1) and the api setting"
    )
