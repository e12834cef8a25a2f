"""The request value: everything a stream needs to send one request, built once, immutable.

``Client.request()`` builds it; :class:`~nbchat.client.Stream` sends it. It holds the API key
only inside a :class:`Secret`, so its repr, its ``to_dict()`` and its ``fingerprint()`` never
show it; ``send_headers()`` is the one place the key becomes a header value.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbchat.backends import Backend
    from nbchat.client.budget import Budget
    from nbchat.recording import Recorder

__all__ = ["Request", "Secret", "redact_url"]


class Secret:
    """Holds the API key; its repr and str never show it, and it cannot be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def get(self) -> str | None:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "'***'" if self._value else "None"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an API key cannot be pickled")


def redact_url(url: str) -> str:
    """Scheme, host, port and path of a URL: never user info, query or fragment."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True, eq=False)
class Request:
    """One chat-completions request, ready to send.

    ``payload`` is the JSON body exactly as it will be sent; ``headers`` are the
    non-secret headers; the key is sent under ``auth_header`` by :meth:`send_headers`.
    """

    backend: Backend = field(repr=False)
    url: str
    model: str
    payload: Mapping[str, Any] = field(repr=False)
    stream: bool = True
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    auth_header: str | None = field(default=None, repr=False)
    #: Put before the key in the header (``"Bearer "`` for ``Authorization``).
    auth_prefix: str = field(default="", repr=False)
    key: Secret = field(default_factory=lambda: Secret(None), repr=False)
    timeout: tuple[float, float] = (10.0, 120.0)
    max_retries: int = 2
    #: Seconds the whole request may take, retries and keep-alive comments included.
    deadline: float | None = None
    recorder: Recorder | None = field(default=None, repr=False)
    #: Prices (nbchat.data.prices): the declared provider, the reply bound, the spending limit.
    price_provider: str | None = None
    max_tokens: int | None = None
    budget: Budget | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # the URL without user info or query (they may hold a key)
        return f"Request(url={redact_url(self.url)!r}, model={self.model!r}, stream={self.stream})"

    @property
    def api(self) -> str:
        return self.backend.name

    def send_headers(self) -> dict[str, str]:
        """The headers to send, the key included: only the transport should call this."""
        out = dict(self.headers)
        key = self.key.get()
        if key and self.auth_header:
            out[self.auth_header] = self.auth_prefix + key
        return out

    def with_payload(self, payload: Mapping[str, Any]) -> Request:
        """The same request with another body (the backends' one-time fallbacks)."""
        return replace(self, payload=payload)

    def fingerprint(self) -> str:
        """A hash of what decides the answer: API, URL without credentials, and the body.

        Never the key or a header; equal for equal requests across processes.
        """
        doc = {"api": self.api, "url": redact_url(self.url), "payload": self.payload}
        text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """What is sent, for people: URL without credentials, headers with the key as ``***``."""
        headers = dict(self.headers)
        if self.key and self.auth_header:
            headers[self.auth_header] = "***"
        return {
            "method": "POST",
            "url": redact_url(self.url),
            "headers": headers,
            "body": json.loads(json.dumps(self.payload)),
        }
