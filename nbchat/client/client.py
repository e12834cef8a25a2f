"""``Client``: one server's configuration; builds immutable requests and opens streams.

No I/O beyond handing a :class:`~nbchat.client.Request` to a
:class:`~nbchat.client.Stream`; no widget code. The retry policy lives in
``nbchat.client.retry``, reply assembly in ``nbchat.backends.accumulator``.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from nbchat._exceptions import ConfigError
from nbchat.backends import Backend, get_backend
from nbchat.client.request import Request, Secret
from nbchat.client.stream import Stream
from nbchat.records import Reply, check_params
from nbchat.transport import http

if TYPE_CHECKING:
    from nbchat.recording import Recorder

__all__ = ["DEFAULT_TIMEOUT", "Client", "Stream"]

log = logging.getLogger("nbchat")

#: (connect, read) seconds; the read timeout applies between chunks too (PROTOCOL.md 6).
DEFAULT_TIMEOUT = (10.0, 120.0)


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
        self._key = Secret(api_key or os.environ.get(self.backend.api_key_env) or None)
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

    def request(
        self,
        messages: Iterable[Mapping[str, Any]],
        model: str,
        *,
        stream: bool = True,
        **params: Any,
    ) -> Request:
        """The request that ``stream()`` / ``complete()`` would send, without sending it."""
        checked = check_params(params)
        payload = self.backend.build_payload(
            [dict(m) for m in messages], model, checked, stream, self.options
        )
        header, prefix = self.backend.auth(self.auth_header)
        headers = self.backend.headers()
        headers.update(self.extra_headers)
        return Request(
            backend=self.backend,
            url=self.url,
            model=model,
            payload=payload,
            stream=stream,
            headers=headers,
            auth_header=header,
            auth_prefix=prefix,
            key=self._key,
            timeout=self.timeout,
            max_retries=self.max_retries,
            recorder=self._recorder,
        )

    def open(self, request: Request) -> Stream:
        """A stream for ``request`` on this client's connection pool (sent when iterated)."""
        return Stream(request, self._session)

    def stream(self, messages: Iterable[Mapping[str, Any]], model: str, **params: Any) -> Stream:
        """Start a streamed reply. The request is sent when iteration begins."""
        return self.open(self.request(messages, model, stream=True, **params))

    def complete(self, messages: Iterable[Mapping[str, Any]], model: str, **params: Any) -> Reply:
        """Send the conversation and return the whole reply.

        Raises the typed :class:`~nbchat.APIError` subclasses; a reply cut short raises
        :class:`~nbchat.StreamError` with the partial text.
        """
        s = self.open(self.request(messages, model, stream=False, **params))
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
