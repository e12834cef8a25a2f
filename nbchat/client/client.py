"""``Client``: one server's configuration; builds immutable requests and opens streams.

No I/O beyond handing a :class:`~nbchat.client.Request` to a
:class:`~nbchat.client.Stream`; no widget code. The retry policy lives in
``nbchat.client.retry``, reply assembly in ``nbchat.backends.accumulator``.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from nbchat._exceptions import ConfigError
from nbchat.backends import Backend, get_backend
from nbchat.backends.messages import as_messages
from nbchat.backends.models import MODELS_PATH
from nbchat.client import config, listing
from nbchat.client.budget import Budget
from nbchat.client.request import Request, Secret, redact_url
from nbchat.client.storing import StoredStream, StoreLog
from nbchat.client.stream import Stream
from nbchat.records import Reply, check_params
from nbchat.transport import http, logs

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
    store:
        True: every finished exchange is written to the conversation store (``nbchat.logs()``;
        ``nbchat.data.store``), one stored conversation per client. Never the key or a header.
    price_provider:
        The genai-prices provider the model is priced as (``"openai"`` for a proxy or gateway);
        default: from the base URL (``nbchat.data.prices``).
    budget:
        USD this client may spend: a request whose worst case exceeds what remains is refused
        before it is sent with :class:`~nbchat.BudgetExceeded` (``nbchat.client.budget``).
    deadline:
        Seconds a whole request may take, from sending it to the end of the stream (retries
        included); ``None`` (the default) for no deadline. The read timeout bounds a silence
        only, so a server that keeps sending keep-alive comments holds a stream open until
        this deadline ends it with a :class:`~nbchat.StreamError` (status ``incomplete``,
        the text so far kept).
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
        store: bool = False,
        price_provider: str | None = None,
        budget: float | None = None,
        deadline: float | None = None,
    ) -> None:
        # Every argument is checked here, before any request (config.py): a bad value is a
        # ConfigError naming it, and neither the key nor a header value is ever quoted.
        self.backend: Backend = get_backend(api)
        self.api = api
        if base_url is None:
            base_url = os.environ.get(self.backend.base_url_env) or self.backend.default_base_url
        self.base_url = config.check_url(base_url)
        if "?" in self.base_url:  # a key in the query stays out of urllib3's log lines
            logs.install()
        if api_key is None:
            api_key = os.environ.get(self.backend.api_key_env) or None
        self._key = Secret(config.check_key(api_key))
        self.timeout: tuple[float, float] = config.check_timeout(timeout)
        self.max_retries = config.check_retries(max_retries)
        self.deadline = config.check_deadline(deadline)
        self.auth_header = config.check_auth_header(auth_header)
        # requests sends user info as Basic auth, replacing "Authorization: Bearer KEY".
        if (
            self._key
            and urllib.parse.urlsplit(self.base_url).username is not None
            and self.backend.auth(self.auth_header)[0].lower() == "authorization"
        ):
            raise ConfigError(
                "base_url holds user info (user:password@), sent as HTTP Basic auth, which "
                "would replace the API key's Authorization header: remove one of them, or "
                "send the key in another header with auth_header='x-api-key'"
            )
        if max_tokens_field is None:
            host = urllib.parse.urlsplit(self.base_url).hostname or ""
            max_tokens_field = (
                "max_completion_tokens" if host.endswith("api.openai.com") else "max_tokens"
            )
        self.options: dict[str, Any] = {
            "include_usage": bool(include_usage),
            "max_tokens_field": config.check_field(
                max_tokens_field, "max_tokens_field", ("max_tokens", "max_completion_tokens")
            ),
        }
        self.extra_headers = config.check_headers(headers)
        self._session = http.make_session()
        self._recorder = recorder
        self.store = store
        self._store_log = StoreLog()
        self.price_provider = price_provider
        self.budget = None if budget is None else Budget(budget)

    # -- public API --------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The endpoint requests are posted to (a query in the base URL is kept after it)."""
        return self._endpoint(self.backend.endpoint)

    def _endpoint(self, path_of: Callable[[str], str]) -> str:
        parts = urllib.parse.urlsplit(self.base_url)
        url = path_of(urllib.parse.urlunsplit(parts._replace(query="", fragment="")))
        return f"{url}?{parts.query}" if parts.query else url

    @property
    def display_url(self) -> str:
        """The base URL as shown to people: never its user info, query or fragment."""
        return redact_url(self.base_url)

    @property
    def has_key(self) -> bool:
        return bool(self._key.get())

    def request(
        self,
        messages: Iterable[Mapping[str, Any]] | str,
        model: str,
        *,
        stream: bool = True,
        **params: Any,
    ) -> Request:
        """The request that ``stream()`` / ``complete()`` would send, without sending it."""
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model must be a non-empty string, not {model!r}")
        checked = check_params(params)
        payload = self.backend.build_payload(
            as_messages(messages), model, checked, stream, self.options
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
            deadline=self.deadline,
            recorder=self._recorder,
            price_provider=self.price_provider,
            max_tokens=checked.get("max_tokens"),
            budget=self.budget,
        )

    def open(self, request: Request) -> Stream:
        """A stream for ``request`` on this client's connection pool (sent when iterated)."""
        r = request
        if r.budget is not None:  # a request over budget is refused here, before it is sent
            r.budget.reserve(r.payload, r.model, r.url, r.price_provider, r.max_tokens, hold=False)
        if self.store:  # Client(store=True): the exchange is written when it ends
            return StoredStream(request, self._session, self._store_log)
        return Stream(request, self._session)

    def stream(
        self, messages: Iterable[Mapping[str, Any]] | str, model: str, **params: Any
    ) -> Stream:
        """Start a streamed reply. The request is sent when iteration begins."""
        return self.open(self.request(messages, model, stream=True, **params))

    def complete(
        self, messages: Iterable[Mapping[str, Any]] | str, model: str, **params: Any
    ) -> Reply:
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

    def models(
        self,
        timeout: float | tuple[float, float] | None = None,
        max_retries: int | None = None,
    ) -> list[str]:
        """The model names the server lists, in its order (``GET {base_url}/models``).

        OpenAI-compatible servers list ``{"data": [{"id": ...}]}``; the embedded server also
        serves an EGP-style page at ``/egp/v1/models``. A server without a listing raises
        :class:`~nbchat.NotFoundError` saying so; other failures raise the usual typed
        :class:`~nbchat.APIError` s. ``timeout`` and ``max_retries`` default to the client's.
        """
        return listing.list_models(
            self._session,
            self.backend,
            self._endpoint(lambda base: base.rstrip("/") + MODELS_PATH),
            self.extra_headers,
            self.backend.auth(self.auth_header),
            self._key,
            self.timeout if timeout is None else config.check_timeout(timeout),
            self.max_retries if max_retries is None else config.check_retries(max_retries),
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Client(api={self.api!r}, base_url={self.display_url!r}, "
            f"api_key={self._key!r}, max_retries={self.max_retries})"
        )
