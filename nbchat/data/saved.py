"""The JSON save format of a panel: ``ChatPanel.to_json`` / ``ChatPanel.from_json``.

A document holds the format name and version, the nbchat version that wrote it, the model,
system prompt, parameters and the committed messages of the active branch (``messages``,
``Message.to_dict()``), and when the conversation has other branches (edits, retries) every
message of its tree (``tree``). Never the API key, the client or the reply in progress.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nbchat._version import __version__

__all__ = ["JSON_FORMAT", "JSON_VERSION", "panel_from_json", "panel_to_json"]

#: The save format's name and version, checked by ``panel_from_json``.
JSON_FORMAT = "nbchat.conversation"
JSON_VERSION = 1


def panel_to_json(panel: Any) -> str:
    """The panel's conversation, model, system prompt and parameters as JSON.

    Never the API key, the client or the reply in progress (only committed messages).
    """
    state = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "nbchat": __version__,
        "model": panel.model,
        "system": panel.system,
        "params": dict(panel.params),
        "messages": [dict(m) for m in panel.messages],
    }
    book = getattr(getattr(panel, "_runner", None), "book", None)
    if book is not None and len(book.tree) > len(panel.messages):
        state["tree"] = list(book.tree.by_id.values())
    return json.dumps(state, ensure_ascii=False, allow_nan=False)


def panel_from_json(data: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """Parse and check a ``panel_to_json`` document; returns its state dict."""
    state = json.loads(data) if isinstance(data, (str, bytes)) else dict(data)
    if not isinstance(state, dict) or state.get("format") != JSON_FORMAT:
        raise ValueError(f"not an nbchat conversation (expected format {JSON_FORMAT!r})")
    if int(state.get("version", 0)) > JSON_VERSION:
        raise ValueError(
            f"this conversation was saved by a newer nbchat (format version "
            f"{state['version']}); upgrade nbchat to load it"
        )
    messages = state.get("messages", [])
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ValueError("'messages' must be a list of message objects")
    tree = state.get("tree", [])
    if not isinstance(tree, list) or not all(isinstance(m, dict) and "id" in m for m in tree):
        raise ValueError("'tree' must be a list of message objects with ids")
    return state
