"""Provider error bodies: the server's own message, by PROTOCOL.md 2.5 and 3.4.

The transport knows statuses and bytes; what an error *says* depends on the API, so it is
read here and handed to the transport's error mapping as a function.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["body_message", "message_from_json"]


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
