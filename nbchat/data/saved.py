"""The JSON save format of a panel: ``ChatPanel.to_json`` / ``ChatPanel.from_json``.

A document holds the format name and version, the nbchat version that wrote it, the model,
system prompt, parameters and the committed messages of the active branch (``messages``,
``Message.to_dict()``), and when the conversation has other branches (edits, retries) every
message of its tree (``tree``). Never the API key, the client or the reply in progress.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from nbchat._exceptions import ConfigError
from nbchat._version import __version__
from nbchat.data.checks import check_document, read_document

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
        state["tree"] = book.tree.messages()
    return json.dumps(state, ensure_ascii=False, allow_nan=False)


def panel_from_json(
    data: str | bytes | os.PathLike[str] | Mapping[str, Any],
) -> dict[str, Any]:
    """Read and check a ``panel_to_json`` document (its text, a path to it, or the parsed
    dict); returns its state dict. ConfigError names what is wrong (``nbchat.data.checks``)."""
    state = read_document(data)
    if state.get("format") != JSON_FORMAT:
        raise ConfigError(
            f"not an nbchat conversation: format is {state.get('format')!r}, "
            f"expected {JSON_FORMAT!r}"
        )
    return check_document(state, JSON_VERSION)
