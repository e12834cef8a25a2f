"""The messages of a request: checked before anything is sent, then sent faithfully.

* :func:`as_messages` accepts what ``Client.complete``/``stream`` take as ``messages``: a list
  of message dicts, or a plain string (one user message).
* :func:`openai_messages` passes every valid OpenAI message shape through unchanged: content
  parts lists, ``tool_calls`` (with ``content=None``), ``tool`` messages with
  ``tool_call_id``, ``name`` (PROTOCOL.md 3.1; package openai 3.57.0,
  openai/types/chat/chat_completion_message_param.py). Fields that are not part of an OpenAI
  message (nbchat's own record fields: ``id``, ``status``, ``usage``...) are left out.
* :func:`egp_messages` sends the shapes PROTOCOL.md 2.3 allows: ``user``, ``system`` and
  ``assistant`` (``agent`` is sent as ``assistant``) with string content.

An invalid message is a :class:`~nbchat.ConfigError` naming its index and field
(``messages[2].content``), raised before any request. An assistant message with no text
(``""`` or None) and no tool calls, a turn that failed before any text, is not sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nbchat._exceptions import ConfigError

__all__ = ["MESSAGES_HELP", "as_messages", "egp_messages", "openai_messages"]

MESSAGES_HELP = (
    "messages must be a list of message dicts such as "
    "[{'role': 'user', 'content': 'Hello'}], or a plain string (sent as one user message)"
)

#: Roles and the fields an OpenAI message may carry (besides ``role``).
OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
OPENAI_FIELDS = (
    "content",
    "name",
    "tool_calls",
    "tool_call_id",
    "function_call",
    "refusal",
    "audio",
)
EGP_ROLES = ("system", "user", "assistant")


def as_messages(messages: object) -> list[Mapping[str, Any]]:
    """The messages as a list of mappings (a string is one user message); ConfigError if not."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if isinstance(messages, Mapping):
        raise ConfigError(f"{MESSAGES_HELP}; got one dict: wrap it in a list")
    if messages is None or isinstance(messages, (bytes, bytearray)):
        raise ConfigError(f"{MESSAGES_HELP}; not {type(messages).__name__}")
    if not isinstance(messages, Iterable):
        raise ConfigError(f"{MESSAGES_HELP}; not {type(messages).__name__}")
    out = list(messages)
    for i, m in enumerate(out):
        if not isinstance(m, Mapping):
            raise ConfigError(
                f"messages[{i}] must be a dict with 'role' and 'content', not "
                f"{type(m).__name__} ({MESSAGES_HELP})"
            )
    if not out:
        raise ConfigError(f"{MESSAGES_HELP}; the list is empty")
    return out


def _role(i: int, m: Mapping[str, Any], allowed: tuple[str, ...], api: str) -> str:
    role = m.get("role")
    if role is None:
        raise ConfigError(f"messages[{i}].role is missing; use one of {list(allowed)}")
    if role == "agent":  # an EGP reply's role; sent back as assistant (PROTOCOL.md 2.3)
        return "assistant"
    if not isinstance(role, str) or role not in allowed:
        raise ConfigError(
            f"messages[{i}].role must be one of {list(allowed)} for {api}, not {role!r}"
        )
    return role


def _empty_reply(role: str, m: Mapping[str, Any]) -> bool:
    """An assistant message with no text and no tool call: a turn that failed (not sent)."""
    if role != "assistant" or m.get("content") not in ("", None):
        return False
    return not any(m.get(k) for k in ("tool_calls", "function_call", "audio", "refusal"))


def egp_messages(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages for EGP: ``{"role", "content"}`` with string content (PROTOCOL.md 2.3)."""
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        role = _role(i, m, EGP_ROLES, "the EGP API")
        if _empty_reply(role, m):
            continue
        for key in ("tool_calls", "tool_call_id"):
            if m.get(key):
                raise ConfigError(
                    f"messages[{i}].{key}: the EGP API takes no tool messages (PROTOCOL.md 2.3)"
                )
        content = m.get("content")
        if not isinstance(content, str):
            raise ConfigError(
                f"messages[{i}].content must be a string for the EGP API, not "
                f"{type(content).__name__}"
            )
        out.append({"role": role, "content": content})
    return out


def openai_messages(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages for the OpenAI API, passed through unchanged once checked."""
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        role = _role(i, m, OPENAI_ROLES, "the OpenAI API")
        if _empty_reply(role, m):
            continue
        msg = {"role": role, **{k: m[k] for k in OPENAI_FIELDS if k in m}}
        _check_openai(i, role, msg)
        out.append(msg)
    return out


def _check_openai(i: int, role: str, m: Mapping[str, Any]) -> None:
    where = f"messages[{i}]"
    content = m.get("content")
    calls = m.get("tool_calls")
    if calls is not None:
        if role != "assistant":
            raise ConfigError(f"{where}.tool_calls is only allowed on assistant messages")
        _check_tool_calls(where, calls)
    if content is None:
        if not (role == "assistant" and (calls or m.get("function_call") or m.get("audio"))):
            raise ConfigError(
                f"{where}.content is missing (None); only an assistant message with "
                "tool_calls may have no content"
            )
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                raise ConfigError(
                    f"{where}.content[{j}] must be a content part dict with a 'type' "
                    "(e.g. {'type': 'text', 'text': ...})"
                )
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise ConfigError(f"{where}.content[{j}].text must be a string")
    elif not isinstance(content, str):
        raise ConfigError(
            f"{where}.content must be a string or a list of content parts, not "
            f"{type(content).__name__}"
        )
    if role == "tool" and not isinstance(m.get("tool_call_id"), str):
        raise ConfigError(f"{where}.tool_call_id must be the id of the tool call it answers")
    if "tool_call_id" in m and role != "tool":
        raise ConfigError(f"{where}.tool_call_id is only allowed on tool messages")
    if "name" in m and not isinstance(m["name"], str):
        raise ConfigError(f"{where}.name must be a string, not {type(m['name']).__name__}")


def _check_tool_calls(where: str, calls: Any) -> None:
    if not isinstance(calls, list):
        raise ConfigError(f"{where}.tool_calls must be a list, not {type(calls).__name__}")
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise ConfigError(
                f"{where}.tool_calls[{j}] must be a dict with 'id', 'type' and "
                "'function': {'name', 'arguments'}"
            )
        if not isinstance(fn.get("arguments", ""), str):
            raise ConfigError(f"{where}.tool_calls[{j}].function.arguments must be a JSON string")
