"""A streamed reply: sends a :class:`~nbchat.client.Request` and ends with a Reply.

The loop posts the request (retrying only before any output, by ``nbchat.client.retry``),
checks the status, decodes SSE events as bytes arrive (``nbchat.transport``), and hands each
event to the backends' accumulator, the one place a reply is assembled. A stream always ends
with ``reply`` set and a status: ``complete``, ``incomplete`` (cut short), ``cancelled``
(closed) or ``error`` (PROTOCOL.md 5-6).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

import requests

from nbchat._exceptions import APIConnectionError, APIError, BudgetExceeded, StreamError
from nbchat.backends.accumulator import Accumulator, EventError, decode_sync
from nbchat.backends.errors import body_kind, body_message, event_error_message, html_message
from nbchat.client import retry
from nbchat.client.request import Request, redact_url
from nbchat.client.tap import Tap
from nbchat.records import Chunk, Reply, ReplyStatus
from nbchat.transport import http
from nbchat.transport.sse import EventTooLarge, ServerSentEvent, SSEDecoder, UnknownField

if TYPE_CHECKING:
    from nbchat.recording import _Exchange

__all__ = ["Stream"]

log = logging.getLogger("nbchat")


class Stream:
    """A streamed reply: iterate it for :class:`~nbchat.Chunk` s; ``reply`` holds the result.

    A context manager that always closes the connection. :meth:`close` may be called
    from any thread: it shuts the socket, so a blocked read ends at once, and the reply
    ends with status ``"cancelled"`` and the text received so far.
    """

    def __init__(self, request: Request, session: requests.Session) -> None:
        self.request = request
        self.model = request.model
        self._session = session
        self._cancel = threading.Event()
        self._wake = threading.Event()  # set by close() and by a landed POST
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self._started = False
        self._acc = Accumulator(request.backend, request.model)
        self.reply: Reply | None = None
        self.requests_made = 0
        self._recording: _Exchange | None = None
        #: The wire record (reply.raw), the price and the budget (nbchat.client.tap).
        self._tap = Tap()
        self._expired = False  # the request's deadline passed (set by a timer thread)

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
        return self._acc.text

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
        self._acc.started = time.monotonic()
        timer = None
        if self.request.deadline is not None:
            timer = threading.Timer(self.request.deadline, self._expire)
            timer.daemon = True
            timer.start()
        try:
            self._tap.start(self.request)  # a budget refuses here: nothing is sent
            resp = self._open()
            if resp is None:  # cancelled (or past the deadline) before a response
                self._stopped()
                return
            try:
                yield from self._read(resp)
            finally:
                http.shutdown(resp)
        except _Cancelled:
            return
        except StreamError:
            raise
        except BudgetExceeded as exc:
            self._end("error", exc.message)
            raise
        except APIError as exc:
            self._end("error", exc.message)
            raise
        except GeneratorExit:
            if self.reply is None:
                self._end("cancelled")
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if self.reply is None:  # an unexpected error: the budget's hold is settled anyway
                self._tap.release(self.request, self._tap.events.bytes > 0)

    def _expire(self) -> None:
        """The deadline passed (on the timer's thread): stop the stream as close() does."""
        if self.reply is None:
            self._expired = True
            self.close()

    def _stopped(self) -> None:
        """End a stream that close() or the deadline stopped; the deadline raises StreamError."""
        if self._expired:
            self._fail("incomplete", "")
        self._end("cancelled")

    def _open(self) -> requests.Response | None:
        request = self.request
        fallback_used = False
        attempt = 0
        while True:
            if self._cancel.is_set():
                return None
            self.requests_made += 1
            log.debug(
                "POST %s model=%s attempt=%d", redact_url(request.url), self.model, attempt + 1
            )
            try:
                sent = time.monotonic()
                resp = self._post(request)
            except APIConnectionError as exc:
                self._tap.attempt(request, sent, error=exc.message)
                if self._cancel.is_set():
                    return None
                wait = retry.delay(exc, None, attempt, request.max_retries)
                if wait is None:
                    raise
                log.info("retrying after %.2fs: %s", wait, exc.message)
                attempt += 1
                if self._cancel.wait(wait):
                    return None
                continue
            if resp is None:  # closed while waiting for the status line
                return None
            self._tap.attempt(request, sent, resp)
            if request.recorder is not None:  # taps resp.raw: every body piece is recorded
                self._recording = request.recorder.start(
                    request.api, request.url, dict(request.payload), resp, sent
                )
            if resp.ok:
                with self._lock:
                    self._response = resp
                if self._cancel.is_set():
                    http.shutdown(resp)
                    return None
                return resp
            err = http.error_from_response(resp, body_message, body_kind)
            fallback = request.backend.fallback_payload(request.payload, err.status, err.message)
            if fallback is not None and not fallback_used:
                fallback_used = True
                request = self.request = request.with_payload(fallback)
                continue
            wait = retry.delay(err, resp.headers, attempt, request.max_retries)
            if wait is None:
                raise err
            log.info("retrying after %.2fs: %s", wait, err.message)
            attempt += 1
            if self._cancel.wait(wait):
                return None

    def _post(self, request: Request) -> requests.Response | None:
        """POST on a helper thread, so that close() can abandon a server that never answers.

        requests gives no handle on the socket until the status line has arrived; waiting on
        a thread lets a cancel return at once. The helper closes its response when it lands.
        """
        box: dict[str, Any] = {}
        landed = threading.Event()

        def run() -> None:
            try:
                box["resp"] = http.post(
                    self._session,
                    request.url,
                    dict(request.payload),
                    request.send_headers(),
                    request.timeout,
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

    def _read(self, resp: requests.Response) -> Iterator[Chunk]:
        ctype = resp.headers.get("content-type", "").lower()
        acc = self._acc
        decoder = SSEDecoder()
        first = True
        tap = self._tap
        # Bound once: the loop below runs once per event.
        feed = decoder.feed
        add_event = acc.add_event
        log_event = tap.events.add
        t0 = tap.t0
        now = time.monotonic
        try:
            for data in http.iter_body(resp):
                tap.events.bytes += len(data)
                arrived = now() - t0  # one clock reading per read: its events came together
                if first:
                    first = False
                    if ctype.startswith("text/html") or data.lstrip()[:1] == b"<":
                        self._fail("error", html_message(redact_url(resp.url), data))
                    # PROTOCOL.md 5.3: a JSON body answers a stream request as a sync reply.
                    if ctype.startswith("application/json") or data.lstrip()[:1] == b"{":
                        yield from self._read_sync(resp, data)
                        return
                for item in feed(data):
                    if type(item) is ServerSentEvent:
                        event, text, _ = item
                        log_event(arrived, event, text)  # tap.event, inlined
                        chunk = add_event(text, event)
                        if chunk is not None:
                            yield chunk
                        elif acc.saw_done:
                            break
                        continue
                    assert isinstance(item, UnknownField)
                    tap.event(item.name + ":", item.value)
                    if item.name == "error":  # llama.cpp's `error:` line
                        self._fail("error", event_error_message(item.value))
                if acc.saw_done:
                    break
        except EventError as exc:
            self._fail("error", exc.message)
        except EventTooLarge as exc:
            self._fail("error", f"stream stopped: {exc}")
        except http.BodyInterrupted as exc:
            if self._cancel.is_set():
                self._stopped()
                return
            self._fail("incomplete", f"the connection dropped mid-stream ({exc})")
        if self._cancel.is_set() and not acc.saw_done:
            self._stopped()
            return
        if not acc.saw_done:
            try:
                for item in decoder.close():
                    if not isinstance(item, UnknownField):
                        tap.event(item.event, item.data)
                        chunk = acc.add_event(item.data, item.event)
                        if chunk is not None:
                            yield chunk
            except EventError as exc:
                self._fail("error", exc.message)
            except EventTooLarge as exc:
                self._fail("error", f"stream stopped: {exc}")
        if not acc.events:
            self._fail("error", "empty response: the server sent no events")
        if acc.complete():
            self._end("complete")
        else:
            self._fail(
                "incomplete",
                "the stream ended before the server said it was done (no [DONE] or finish reason)",
            )

    def _read_sync(self, resp: requests.Response, head: bytes) -> Iterator[Chunk]:
        body = bytearray(head)
        try:
            for data in http.iter_body(resp):
                self._tap.events.bytes += len(data)
                body += data
        except http.BodyInterrupted as exc:
            if self._cancel.is_set():
                self._stopped()
                return
            self._fail("incomplete", f"the connection dropped while reading the reply ({exc})")
        self._tap.event("json", body.decode("utf-8", errors="replace"))
        try:
            delta = decode_sync(self.request.backend, bytes(body))
        except EventError as exc:
            self._fail("error", exc.message)
        chunk = self._acc.add(delta)
        if chunk is not None:
            yield chunk
        self._end("complete")

    def _end(self, status: ReplyStatus, error: str | None = None) -> Reply:
        if self.reply is None:
            # The accumulator assembles the reply; the tap adds cost, request size and raw.
            received = self._acc.events > 0 or self._tap.events.bytes > 0
            self.reply = self._tap.finish(self._acc.reply(status, error), self.request, received)
            if self._recording is not None:
                self._recording.finish(self.reply)
            log.debug(
                "reply %s: %d chars, usage=%s, finish=%s",
                status,
                len(self.reply.content),
                self.reply.usage,
                self.reply.finish_reason,
            )
        return self.reply

    def _fail(self, status: ReplyStatus, message: str) -> NoReturn:
        """End the reply with ``status``, keeping the text so far, and raise StreamError."""
        if self._cancel.is_set() and self.reply is None:
            if not self._expired:
                self._end("cancelled")
                raise _Cancelled
            # Stopped by the deadline: whatever broke off the read, that is the reason.
            status, message = "incomplete", f"deadline of {self.request.deadline:g} s exceeded"
        reply = self._end(status, message)
        raise StreamError(message, partial=reply.content, reply=reply)


class _Cancelled(Exception):
    pass
