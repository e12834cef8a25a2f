"""The Backend protocol and what both adapters share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypedDict

from nbchat.conversation import Delta, Usage

__all__ = ["Backend", "Params", "clean_messages", "int_or_none"]


class Params(TypedDict, total=False):
    """Generation parameters, by nbchat's names (mapped to wire names by each backend)."""

    temperature: float
    max_tokens: int
    stop: list[str]
    top_p: float
    top_k: int
    extra: dict[str, Any]


class Backend(Protocol):
    """One wire protocol. Implementations hold no per-stream state."""

    name: str
    default_base_url: str
    base_url_env: str
    api_key_env: str

    def endpoint(self, base_url: str) -> str: ...

    def auth_headers(self, api_key: str | None, header: str | None) -> dict[str, str]: ...

    def build_payload(
        self,
        messages: Iterable[Mapping[str, Any]],
        model: str,
        params: Params,
        stream: bool,
        options: Mapping[str, Any],
    ) -> dict[str, Any]: ...

    def parse_event(self, data: Any) -> Delta: ...

    def parse_sync(self, data: Any) -> Delta: ...

    def is_complete(self, saw_done: bool, saw_finish: bool) -> bool:
        """Whether a clean end of body (after at least one event) is a complete reply."""
        ...


def clean_messages(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the wire wants them: role and content only, ``agent`` sent as ``assistant``.

    Empty assistant messages (an error turn with no text) are never sent.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        role = str(m.get("role", "user"))
        if role == "agent":
            role = "assistant"
        content = m.get("content")
        if role == "assistant" and not content:
            continue
        out.append({"role": role, "content": "" if content is None else str(content)})
    return out


def int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def usage_of(prompt: Any, completion: Any, total: Any) -> Usage | None:
    """A Usage from raw values, or None when every value is missing."""
    p, c, t = int_or_none(prompt), int_or_none(completion), int_or_none(total)
    if p is None and c is None and t is None:
        return None
    if t is None and p is not None and c is not None:
        t = p + c
    return Usage(p, c, t)
