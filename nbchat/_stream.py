"""A streamed reply: the read loop, the retry policy, and how a stream ends (PROTOCOL.md 5-6).

``Client.stream()`` returns a :class:`Stream`; ``Client.complete()`` drains one. The loop posts
the request (retrying only before any output), checks the status, decodes SSE events as bytes
arrive, hands each event to the client's protocol adapter, and ends the reply with a status:
``complete``, ``incomplete`` (cut short), ``cancelled`` (closed) or ``error``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import requests

from nbchat._exceptions import (
    APIConnectionError,
    APIError,
    RateLimitError,
    ServerError,
    StreamError,
)
from nbchat.backends import Params
from nbchat.conversation import Chunk, Delta, Reply, ReplyStatus, ToolRequest, Usage
from nbchat.transport import http
from nbchat.transport.sse import ServerSentEvent, SSEDecoder, UnknownField

if TYPE_CHECKING:
    from nbchat.client import Client
    from nbchat.recording import _Exchange

__all__ = ["Stream"]

log = logging.getLogger("nbchat")

#: Retry-After is honoured only up to this many seconds (PROTOCOL.md 6).
RETRY_AFTER_CAP_S = 60.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


class Stream:
    """A streamed reply: iterate it for :class:`Chunk` s; ``reply`` holds the result.

    A context manager that always closes the connection. :meth:`close` may be called
    from any thread: it shuts the socket, so a blocked read ends at once, and the reply
    ends with status ``"cancelled"`` and the text received so far.
    """

    def __init__(
        self,
        client: Client,
        messages: list[dict[str, Any]],
        model: str,
        params: Params,
        stream: bool,
    ) -> None:
        self._client = client
        self._messages = messages
        self.model = model
        self._params = params
        self._stream = stream
        self._cancel = threading.Event()
        self._wake = threading.Event()  # set by close() and by a landed POST
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self._started = False
        self.reply: Reply | None = None
        self.requests_made = 0
        # accumulated state
        self._parts: list[str] = []
        self._usage: Usage | None = None
        self._finish: str | None = None
        self._tool: ToolRequest | None = None
        self._tools: dict[int, list[Any]] = {}
        self._extra: dict[str, Any] = {}
        self._server_model: str | None = None
        self._t0 = 0.0
        self._ttft: float | None = None
        self._recording: _Exchange | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the stream (from any thread) and close the connection promptly."""
        if self.reply is None:
            self._cancel.set()
            self._wake.set()
        with self._lock:
            resp = self._response
        if resp is not None:
            http.shutdown(resp)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._parts)

    def __iter__(self) -> Iterator[Chunk]:
        if self._started:
            raise RuntimeError("a Stream can be iterated only once")
        self._started = True
        return self._run()

    def __repr__(self) -> str:
        state = self.reply.status if self.reply else ("started" if self._started else "new")
        return f"<nbchat.Stream model={self.model!r} {state}>"

    # -- the loop ----------------------------------------------------------------------

    def _run(self) -> Iterator[Chunk]:
        self._t0 = time.monotonic()
        try:
            resp = self._open()
            if resp is None:  # cancelled before a response
                self._finish_reply("cancelled")
                return
            try:
                yield from self._read(resp)
            finally:
                http.shutdown(resp)
        except _Cancelled:
            return
        except StreamError:
            raise
        except APIError as exc:
            self._finish_reply("error", exc.message)
            raise
        except GeneratorExit:
            if self.reply is None:
                self._finish_reply("cancelled")
            raise

    def _open(self) -> requests.Response | None:
        client = self._client
        payload = client._payload(self._messages, self.model, self._params, self._stream)
        headers = client._headers()
        retried_without_usage = False
        attempt = 0
        while True:
            if self._cancel.is_set():
                return None
            self.requests_made += 1
            log.debug("POST %s model=%s attempt=%d", client.url, self.model, attempt + 1)
            try:
                sent = time.monotonic()
                resp = self._post(payload, headers)
            except APIConnectionError as exc:
                if self._cancel.is_set():
                    return None
                delay = self._retry_delay(exc, None, attempt)
                if delay is None:
                    raise
                log.info("retrying after %.2fs: %s", delay, exc.message)
                attempt += 1
                if self._cancel.wait(delay):
                    return None
                continue
            if resp is None:  # closed while waiting for the status line
                return None
            if client._recorder is not None:  # taps resp.raw: every body piece is recorded
                self._recording = client._recorder.start(
                    client.api, client.url, payload, resp, sent
                )
            if resp.ok:
                with self._lock:
                    self._response = resp
                if self._cancel.is_set():
                    http.shutdown(resp)
                    return None
                return resp
            err = http.error_from_response(resp)
            if (
                not retried_without_usage
                and "stream_options" in payload
                and err.status in (400, 422)
                and "stream_options" in err.message
            ):
                # Some servers reject stream_options: retry once without it (usage unknown).
                retried_without_usage = True
                payload = {k: v for k, v in payload.items() if k != "stream_options"}
                continue
            delay = self._retry_delay(err, resp.headers, attempt)
            if delay is None:
                raise err
            log.info("retrying after %.2fs: %s", delay, err.message)
            attempt += 1
            if self._cancel.wait(delay):
                return None

    def _post(self, payload: dict[str, Any], headers: dict[str, str]) -> requests.Response | None:
        """POST on a helper thread, so that close() can abandon a server that never answers.

        requests gives no handle on the socket until the status line has arrived; waiting on
        a thread lets a cancel return at once. The helper closes its response when it lands.
        """
        client = self._client
        box: dict[str, Any] = {}
        landed = threading.Event()

        def run() -> None:
            try:
                box["resp"] = http.post(
                    client._session, client.url, payload, headers, client.timeout
                )
            except BaseException as exc:  # handed to the waiting thread below
                box["exc"] = exc
            finally:
                landed.set()
                self._wake.set()
                if self._cancel.is_set() and "resp" in box:
                    http.shutdown(box["resp"])

        self._wake.clear()
        if self._cancel.is_set():  # closed before the wake event was cleared
            return None
        threading.Thread(target=run, name="nbchat-post", daemon=True).start()
        while not landed.is_set():
            self._wake.wait()
            if self._cancel.is_set():
                return None
        if "exc" in box:
            raise box["exc"]
        resp: requests.Response = box["resp"]
        return resp

    def _retry_delay(self, err: APIError, headers: Any, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None for no retry (PROTOCOL.md 6)."""
        if attempt >= self._client.max_retries:
            return None
        if headers is not None:
            should = str(headers.get("x-should-retry", "")).lower()
            if should == "false":
                return None
            forced = should == "true"
        else:
            forced = False
        if not forced and not (
            isinstance(err, APIConnectionError)
            or (err.status is not None and err.status in RETRYABLE_STATUS)
        ):
            return None
        wanted: float | None = err.retry_after if isinstance(err, RateLimitError) else None
        if wanted is None and headers is not None and isinstance(err, ServerError):
            wanted = http.retry_after(headers)
        if wanted is not None and wanted > RETRY_AFTER_CAP_S:
            return None  # the server wants a longer pause than we wait: show the error now
        if wanted is not None and wanted > 0:
            return wanted
        backoff: float = min(BACKOFF_BASE_S * 2.0**attempt, BACKOFF_CAP_S)
        return float(backoff * (1 - 0.25 * random.random()))

    def _read(self, resp: requests.Response) -> Iterator[Chunk]:
        ctype = resp.headers.get("content-type", "").lower()
        backend = self._client.backend
        decoder = SSEDecoder()
        saw_event = False
        saw_done = False
        first = True
        try:
            for data in http.iter_body(resp):
                if first:
                    first = False
                    # PROTOCOL.md 5.3: a JSON body answers a stream request as a sync reply.
                    if ctype.startswith("application/json") or data.lstrip()[:1] == b"{":
                        yield from self._read_sync(resp, data)
                        return
                for item in decoder.feed(data):
                    if isinstance(item, UnknownField):
                        if item.name == "error":
                            self._fail("error", _event_error_message(item.value))
                        continue
                    outcome = self._on_event(item)
                    if outcome is None:
                        continue
                    saw_event = True
                    if outcome is _DONE:
                        saw_done = True
                        break
                    if isinstance(outcome, Chunk):
                        yield outcome
                if saw_done:
                    break
        except http.BodyInterrupted as exc:
            if self._cancel.is_set():
                self._finish_reply("cancelled")
                return
            self._fail("incomplete", f"the connection dropped mid-stream ({exc})")
        if self._cancel.is_set() and not saw_done:
            self._finish_reply("cancelled")
            return
        if not saw_done:
            for item in decoder.close():
                if isinstance(item, ServerSentEvent):
                    outcome = self._on_event(item)
                    if isinstance(outcome, Chunk):
                        yield outcome
        if not saw_event and not saw_done:
            self._fail("error", "empty response: the server sent no events")
        if backend.is_complete(saw_done, self._finish is not None):
            self._finish_reply("complete")
        else:
            self._fail(
                "incomplete",
                "the stream ended before the server said it was done (no [DONE] or finish reason)",
            )

    def _read_sync(self, resp: requests.Response, head: bytes) -> Iterator[Chunk]:
        body = bytearray(head)
        try:
            for data in http.iter_body(resp):
                body += data
        except http.BodyInterrupted as exc:
            if self._cancel.is_set():
                self._finish_reply("cancelled")
                return
            self._fail("incomplete", f"the connection dropped while reading the reply ({exc})")
        try:
            obj = json.loads(bytes(body).decode("utf-8", errors="replace"))
            if isinstance(obj, dict) and obj.get("error"):
                self._fail("error", http.message_from_json(obj) or "error")
            delta = self._client.backend.parse_sync(obj)
        except _MALFORMED as exc:
            self._fail("error", f"malformed response: {exc}: {bytes(body[:200])!r}")
        chunk = self._apply(delta)
        if chunk is not None:
            yield chunk
        self._finish_reply("complete")

    def _on_event(self, ev: ServerSentEvent) -> Chunk | object | None:
        """Handle one event (PROTOCOL.md 5.4). Returns a Chunk, _DONE, _SEEN or None (skip)."""
        data = ev.data
        if ev.event == "error":
            self._fail("error", _event_error_message(data))
        if data[:1] != "{":  # the usual JSON object skips these checks
            stripped = data.strip()
            if not stripped:
                return None
            if stripped == "[DONE]":
                return _DONE
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            self._fail("error", f"malformed chunk from the server: {data[:200]!r}")
        if isinstance(obj, dict) and obj.get("error"):
            self._fail("error", http.message_from_json(obj) or "error event")
        try:
            delta = self._client.backend.parse_event(obj)
        except _MALFORMED as exc:
            self._fail("error", f"malformed chunk from the server ({exc}): {data[:200]!r}")
        chunk = self._apply(delta)
        return chunk if chunk is not None else _SEEN

    def _apply(self, delta: Delta) -> Chunk | None:
        if delta.usage is not None:
            self._usage = delta.usage  # the last non-null value; never summed
        if delta.finish_reason is not None:
            self._finish = delta.finish_reason
        if delta.model:
            self._server_model = delta.model
        if delta.extra:
            self._extra.update(delta.extra)
        if delta.tool_request is not None:
            self._tool = delta.tool_request
        for index, call_id, name, args in delta.tool_fragments:
            slot = self._tools.setdefault(index, [None, "", ""])
            slot[0] = slot[0] or call_id
            slot[1] = slot[1] or (name or "")
            slot[2] += args
        if delta.tool_fragments:
            i = min(self._tools)
            cid, name, args = self._tools[i]
            self._tool = ToolRequest(name, args, cid)
        if delta.text:
            if self._ttft is None:
                self._ttft = time.monotonic() - self._t0
            self._parts.append(delta.text)
        if delta.text or delta.usage or delta.finish_reason or delta.tool_request:
            return Chunk(delta.text, delta.usage, delta.finish_reason, delta.tool_request)
        return None

    def _finish_reply(self, status: ReplyStatus, error: str | None = None) -> Reply:
        if self.reply is None:
            self.reply = Reply(
                content=self.text,
                role="assistant",
                finish_reason=self._finish,
                usage=self._usage,
                status=status,
                model=self._server_model or self.model,
                tool_request=self._tool,
                ttft=self._ttft,
                latency=time.monotonic() - self._t0,
                error=error,
                api=self._client.api,
                extra=dict(self._extra),
            )
            if self._recording is not None:
                self._recording.finish(self.reply)
            log.debug(
                "reply %s: %d chars, usage=%s, finish=%s",
                status,
                len(self.reply.content),
                self._usage,
                self._finish,
            )
        return self.reply

    def _fail(self, status: ReplyStatus, message: str) -> Any:
        """End the reply with ``status``, keeping the text so far, and raise StreamError."""
        if self._cancel.is_set() and self.reply is None:
            self._finish_reply("cancelled")
            raise _Cancelled
        reply = self._finish_reply(status, message)
        raise StreamError(message, partial=reply.content, reply=reply)


class _Cancelled(Exception):
    pass


#: What an adapter may raise on JSON of the wrong shape: a malformed chunk, never a crash.
_MALFORMED = (ValueError, TypeError, AttributeError, LookupError, ArithmeticError, RecursionError)

_DONE = object()
_SEEN = object()


def _event_error_message(data: str) -> str:
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return data.strip()[:200] or "error event"
    return http.message_from_json(obj) or data.strip()[:200]
