"""The Backend protocol and what both adapters share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from nbchat.records import PARAMS, Delta, Usage

__all__ = ["Backend", "Params", "int_or_none", "usage_of", "wire_params"]

#: Generation parameters by nbchat's names, checked by ``records.check_params``
#: (``extra``: a dict merged into the request body).
Params = Mapping[str, Any]


class Backend(Protocol):
    """One wire protocol. Implementations hold no per-stream state."""

    name: str
    default_base_url: str
    base_url_env: str
    api_key_env: str

    def endpoint(self, base_url: str) -> str: ...

    def headers(self) -> dict[str, str]:
        """The headers every request carries (never the key)."""
        ...

    def auth(self, header: str | None) -> tuple[str, str]:
        """(header name, prefix) the key is sent with; ``header`` overrides the API's own."""
        ...

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

    def fallback_payload(
        self, payload: Mapping[str, Any], status: int | None, message: str
    ) -> dict[str, Any] | None:
        """A payload to try once more after the server rejected this one, or None."""
        ...


def wire_params(
    api: str, params: Params, rename: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The set parameters under ``api``'s wire names (only the ones the user set are sent)."""
    out: dict[str, Any] = {}
    for name, param in PARAMS.items():
        value = params.get(name)
        if value is not None:
            wire = param.wire[api]
            out[(rename or {}).get(wire, wire)] = value
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
