"""The chat client: transport + a protocol adapter + the retry policy. No widget code here.

::

    client = Client(base_url=..., api_key=..., api="egp")   # or api="openai"
    reply = client.complete(messages, model="...")
    with client.stream(messages, model="...") as stream:
        for chunk in stream:
            print(chunk.delta, end="")
    stream.reply
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from nbchat._exceptions import (
    ConfigError,
)
from nbchat._stream import Stream
from nbchat.backends import Backend, Params, get_backend
from nbchat.conversation import Reply
from nbchat.transport import http

if TYPE_CHECKING:
    from nbchat.recording import Recorder

__all__ = ["DEFAULT_TIMEOUT", "Client", "Stream"]

log = logging.getLogger("nbchat")

#: (connect, read) seconds; the read timeout applies between chunks too (PROTOCOL.md 6).
DEFAULT_TIMEOUT = (10.0, 120.0)


class _Secret:
    """Holds the API key; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def get(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "'***'" if self._value else "None"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an API key cannot be pickled")


class Client:
    """A client for one chat-completions server.

    Parameters
    ----------
    base_url:
        The API base. EGP default: ``$NBCHAT_BASE_URL``, else Spellbook's
        ``https://api.spellbook.scale.com/egp/v1``. OpenAI default: ``$OPENAI_BASE_URL``,
        else ``https://api.openai.com/v1``.
    api_key:
        Default ``$SPELLBOOK_API_KEY`` (EGP) or ``$OPENAI_API_KEY`` (OpenAI). Never shown in
        reprs, errors or logs.
    api:
        ``"egp"`` or ``"openai"``.
    timeout:
        Seconds, or ``(connect, read)``; the read timeout also bounds the wait between chunks.
    max_retries:
        Retries on 429, 5xx and connection errors, only before any output (PROTOCOL.md 6).
    auth_header:
        Send the key in this header instead of the API's usual one (Scale's OpenAI-compatible
        endpoints take ``x-api-key``).
    include_usage:
        OpenAI only: ask for the usage chunk when streaming (retried once without it if the
        server rejects the field).
    max_tokens_field:
        OpenAI only: ``max_tokens`` or ``max_completion_tokens`` (default for api.openai.com).
    recorder:
        A :class:`~nbchat.recording.Recorder`: every request and response (status, content
        type, body bytes with their arrival times, and the reply) is written to its cassette
        for replay with ``nbchat.serve(replay=...)``. Headers, and so the key, are never
        recorded.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        api: str = "egp",
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        *,
        auth_header: str | None = None,
        include_usage: bool = True,
        max_tokens_field: str | None = None,
        headers: Mapping[str, str] | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.backend: Backend = get_backend(api)
        self.api = api
        self.base_url = (
            base_url or os.environ.get(self.backend.base_url_env) or self.backend.default_base_url
        ).rstrip("/")
        self._key = _Secret(api_key or os.environ.get(self.backend.api_key_env) or None)
        self.timeout: tuple[float, float] = (
            (float(timeout), float(timeout))
            if isinstance(timeout, (int, float))
            else (float(timeout[0]), float(timeout[1]))
        )
        if max_retries < 0:
            raise ConfigError("max_retries must be >= 0")
        self.max_retries = max_retries
        self.auth_header = auth_header
        if max_tokens_field is None:
            host = urllib.parse.urlsplit(self.base_url).hostname or ""
            max_tokens_field = (
                "max_completion_tokens" if host.endswith("api.openai.com") else "max_tokens"
            )
        self.options: dict[str, Any] = {
            "include_usage": include_usage,
            "max_tokens_field": max_tokens_field,
        }
        self.extra_headers = dict(headers or {})
        self._session = http.make_session()
        self._recorder = recorder

    # -- public API --------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The endpoint requests are posted to."""
        return self.backend.endpoint(self.base_url)

    @property
    def has_key(self) -> bool:
        return bool(self._key.get())

    def stream(self, messages: Iterable[Mapping[str, Any]], model: str, **params: Any) -> Stream:
        """Start a streamed reply. The request is sent when iteration begins."""
        return Stream(self, [dict(m) for m in messages], model, _params(params), stream=True)

    def complete(self, messages: Iterable[Mapping[str, Any]], model: str, **params: Any) -> Reply:
        """Send the conversation and return the whole reply.

        Raises the typed :class:`~nbchat.APIError` subclasses; a reply cut short raises
        :class:`~nbchat.StreamError` with the partial text.
        """
        s = Stream(self, [dict(m) for m in messages], model, _params(params), stream=False)
        with s:
            for _ in s:
                pass
        assert s.reply is not None
        return s.reply

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Client(api={self.api!r}, base_url={self.base_url!r}, "
            f"api_key={self._key!r}, max_retries={self.max_retries})"
        )

    # -- used by Stream ----------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        h = self.backend.auth_headers(self._key.get(), self.auth_header)
        h.update(self.extra_headers)
        return h

    def _payload(
        self, messages: list[dict[str, Any]], model: str, params: Params, stream: bool
    ) -> dict[str, Any]:
        return self.backend.build_payload(messages, model, params, stream, self.options)


def _params(params: Mapping[str, Any]) -> Params:
    allowed = {"temperature", "max_tokens", "stop", "top_p", "top_k", "extra"}
    unknown = set(params) - allowed
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {sorted(unknown)}; use {sorted(allowed)} "
            "(extra={...} is merged into the request body)"
        )
    out: dict[str, Any] = {k: v for k, v in params.items() if v is not None}
    stop = out.get("stop")
    if isinstance(stop, str):
        out["stop"] = [stop]
    elif stop is not None:
        out["stop"] = [str(s) for s in stop]
    return out  # type: ignore[return-value]
