"""Checks of a saved conversation document (``ChatPanel.to_json``), run when it is loaded.

A document that would load and then break ``to_json()`` or ``history()`` later (a ``NaN``, a
token count of 1.5, ``params`` as a list) is refused at once with a
:class:`~nbchat.ConfigError` naming the field: ``messages[3].usage.prompt``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nbchat._exceptions import ConfigError
from nbchat.records import MESSAGE_STATUS, check_params

__all__ = ["check_document", "read_document"]

_ROLES = ("user", "assistant", "system")
_NUMBERS = ("ttft", "latency", "tokens_per_second", "cost")
_INTEGERS = ("request_bytes",)
_STRINGS = (
    "id",
    "model",
    "api",
    "finish_reason",
    "error",
    "created_at",
    "request_id",
    "parent_id",
    "price_source",
)


def _reject_constant(name: str) -> Any:
    raise ConfigError(f"the document holds {name}, which JSON does not allow (a number is needed)")


def read_document(data: str | bytes | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """The document as a dict, from its JSON text, a path to it, or the parsed dict."""
    if isinstance(data, Mapping):
        return dict(data)
    if isinstance(data, os.PathLike):
        data = _read(Path(data))
    elif isinstance(data, str) and not data.lstrip().startswith(("{", "[")):
        if not data.strip() or len(data) > 4096 or not Path(data).is_file():
            raise ConfigError(
                f"from_json takes the JSON text of a saved conversation or a path to its file; "
                f"{data[:60]!r} is neither"
            )
        data = _read(Path(data))
    elif not isinstance(data, (str, bytes)):
        raise ConfigError(f"from_json takes JSON text or a path, not {type(data).__name__}")
    try:
        state = json.loads(data, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not valid JSON (truncated or damaged?): {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"not valid JSON: {type(exc).__name__}") from None
    if not isinstance(state, dict):
        raise ConfigError(f"a saved conversation is a JSON object, not {type(state).__name__}")
    return state


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc}") from None


def check_document(state: dict[str, Any], version: int) -> dict[str, Any]:
    """``state`` if it is a document this nbchat can load (format ``version`` or older)."""
    v = state.get("version")
    if "version" not in state or isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"version must be a whole number >= 1, not {v!r}")
    if v > version:
        raise ConfigError(
            f"version {v}: this conversation was saved by a newer nbchat (format version {v}; "
            f"this one reads up to {version}); upgrade nbchat to load it"
        )
    for key in ("model", "system"):
        if state.get(key) is not None and not isinstance(state[key], str):
            raise ConfigError(f"{key} must be a string, not {type(state[key]).__name__}")
    params = state.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ConfigError(f"params must be an object of parameters, not {type(params).__name__}")
    try:
        state["params"] = check_params(params, allow_extra=False)
    except ConfigError as exc:
        raise ConfigError(f"params: {exc}") from None
    if "messages" not in state:
        raise ConfigError("messages is missing: a saved conversation holds a list of messages")
    messages = state["messages"]
    if not isinstance(messages, list):
        raise ConfigError(f"messages must be a list, not {type(messages).__name__}")
    for i, m in enumerate(messages):
        _check_message(f"messages[{i}]", m)
    tree = state.get("tree", [])
    if not isinstance(tree, list):
        raise ConfigError(f"tree must be a list, not {type(tree).__name__}")
    for i, m in enumerate(tree):
        _check_message(f"tree[{i}]", m)
        if not isinstance(m.get("id"), str):
            raise ConfigError(f"tree[{i}].id must be a string")
    return state


def _check_message(where: str, m: Any) -> None:
    if not isinstance(m, dict):
        raise ConfigError(f"{where} must be a message object, not {type(m).__name__}")
    if m.get("role") not in _ROLES:
        raise ConfigError(f"{where}.role must be one of {list(_ROLES)}, not {m.get('role')!r}")
    if not isinstance(m.get("content"), str):
        raise ConfigError(
            f"{where}.content must be a string, not {type(m.get('content')).__name__}"
        )
    status = m.get("status")
    if status is not None and status not in MESSAGE_STATUS.values():
        raise ConfigError(
            f"{where}.status must be one of {sorted(set(MESSAGE_STATUS.values()))}, not {status!r}"
        )
    for key in _STRINGS:
        if m.get(key) is not None and not isinstance(m[key], str):
            raise ConfigError(f"{where}.{key} must be a string, not {type(m[key]).__name__}")
    for key in _NUMBERS:
        value = m.get(key)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ConfigError(f"{where}.{key} must be a finite number or null, not {value!r}")
    for key in _INTEGERS:
        _whole(f"{where}.{key}", m.get(key))
    if m.get("params") is not None and not isinstance(m["params"], dict):
        raise ConfigError(f"{where}.params must be an object, not {type(m['params']).__name__}")
    usage = m.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            raise ConfigError(f"{where}.usage must be an object, not {type(usage).__name__}")
        for key, value in usage.items():
            _whole(f"{where}.usage.{key}", value)
    for key in ("tool_request",):
        if m.get(key) is not None and not isinstance(m[key], dict):
            raise ConfigError(f"{where}.{key} must be an object, not {type(m[key]).__name__}")
    for key in ("tool_calls", "branches"):
        if m.get(key) is not None and not isinstance(m[key], list):
            raise ConfigError(f"{where}.{key} must be a list, not {type(m[key]).__name__}")


def _whole(where: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigError(f"{where} must be a whole number >= 0 or null, not {value!r}")
