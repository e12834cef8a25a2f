"""The turn runner: one request and its streamed reply, fed to a sink. The only turn loop.

The panel runs a turn on a worker thread (:meth:`Turn.start`); ``%%chat`` runs it in the
cell's own thread (:meth:`Turn.run`), so the reply streams inside the cell and the notebook's
stop button (KeyboardInterrupt) stops it with the partial text kept. Comparison runs use the
same class. Batch runs (``nbchat.runs.batch``) have no sink to feed: their engine reads each
stream to its end on a pool thread and keeps only the Reply, without a flusher per row.

A turn never touches a widget or a display. It writes to a :class:`Sink` with three calls:
``begin`` (the reply is starting), ``delta`` (coalesced text, numbered), ``finish`` (the finished
message dict, committed once). Deltas are flushed at most every ``FLUSH_INTERVAL_S``: a send per
token floods the comm (jupyter_server drops widget messages above 1,000/s) and stalls the kernel.

Exceptions never escape: each one ends the turn in the error state, with the partial text kept,
is logged, and is kept in :attr:`Turn.exception` (``%%chat`` re-raises it to fail the cell).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from nbchat._exceptions import APIError, StreamError
from nbchat.client import Client
from nbchat.records import Message, Reply, new_id, now_iso

__all__ = ["FLUSH_INTERVAL_S", "Sink", "Turn", "prompt"]

log = logging.getLogger("nbchat")

#: Seconds between flushes to the front end (25 updates per second at most).
FLUSH_INTERVAL_S = 0.04
#: How long stop() waits for the worker to wind down.
STOP_TIMEOUT_S = 2.0


class Sink(Protocol):
    """Where a turn's output goes (the panel and ``%%chat`` implement it; tests use a list)."""

    def begin(self, turn: Turn) -> None: ...

    def delta(self, request_id: str, seq: int, text: str) -> None: ...

    def finish(self, message: dict[str, Any]) -> None: ...


def prompt(history: Iterable[Mapping[str, Any]], system: str | None = None) -> list[dict[str, Any]]:
    """The messages to send: the system prompt (if any), then each message's role and content."""
    msgs: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    # .get: a message without a role is refused by the backend's check, naming its index.
    msgs += [{"role": m.get("role"), "content": m.get("content")} for m in history]
    return msgs


class Turn:
    """One request and its reply.

    ``start()`` streams it on a worker thread, ``run()`` in the caller's thread. ``wait()``
    returns the finished :class:`~nbchat.Reply`; ``stop()`` cancels it from any thread and
    keeps the partial text (status ``"stopped"``).
    """

    def __init__(
        self,
        client: Client,
        messages: list[dict[str, Any]],
        model: str,
        params: Mapping[str, Any],
        sink: Sink,
        *,
        snapshot_params: Mapping[str, Any] | None = None,
        flush_interval: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.request_id = new_id()
        self.message_id = new_id()
        self.created_at = now_iso()
        self.model = model
        self.params = dict(snapshot_params if snapshot_params is not None else params)
        self._sink = sink
        self._flush_interval = flush_interval
        self._stream = client.stream(messages, model, **params)
        self._lock = threading.Lock()  # guards _text, _pending and _seq; held only briefly
        # Orders the sends. Never taken by snapshot(): the kernel's main thread answers
        # snapshot requests and must not wait on a send in progress on another thread.
        self._send_lock = threading.Lock()
        self._text: list[str] = []
        self._pending: list[str] = []
        self._seq = 0
        self._done = threading.Event()
        self.reply: Reply | None = None
        self.message: dict[str, Any] | None = None
        #: The error that ended the turn (API, stream or internal), or None.
        self.exception: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="nbchat-worker", daemon=True)

    # -- control -----------------------------------------------------------------------

    def start(self) -> Turn:
        self._sink.begin(self)
        if sys.platform == "emscripten":  # Pyodide cannot start threads
            self._run()
        else:
            self._thread.start()
        return self

    def run(self) -> Reply:
        """Stream the turn in this thread and return its reply.

        Deltas are flushed from this thread (no flusher thread: output written from another
        thread may land in the wrong cell). KeyboardInterrupt (the notebook's stop button) stops
        the turn like :meth:`stop`: the partial text is kept, status ``"stopped"``.
        """
        self._sink.begin(self)
        self._stream_and_commit(inline=True)
        assert self.reply is not None
        return self.reply

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Cancel the request (closes the socket) and wait for the partial reply to commit."""
        self._stream.close()
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> Reply:
        """Block until the reply is finished and return it."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"the reply did not finish within {timeout} s")
        assert self.reply is not None
        return self.reply

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def snapshot(self) -> tuple[int, str]:
        """(seq, text so far): what a view that missed deltas needs to catch up."""
        with self._lock:
            return self._seq, "".join(self._text)

    def __repr__(self) -> str:
        state = self.reply.status if self.reply else "streaming"
        return f"<nbchat.Turn {self.request_id[:8]} model={self.model!r} {state}>"

    # -- the worker thread -------------------------------------------------------------

    def _run(self) -> None:
        self._stream_and_commit(inline=False)

    def _stream_and_commit(self, *, inline: bool) -> None:
        flusher_stop = threading.Event()
        flusher = threading.Thread(
            target=self._flush_loop, args=(flusher_stop,), name="nbchat-flush", daemon=True
        )
        if not inline:
            flusher.start()
        stream = self._stream
        reply: Reply | None = None
        last = time.monotonic()
        try:
            with stream:
                for chunk in stream:
                    if chunk.delta:
                        with self._lock:
                            self._pending.append(chunk.delta)
                        if inline and time.monotonic() - last >= self._flush_interval:
                            last = time.monotonic()
                            self._flush()
            reply = stream.reply
        except KeyboardInterrupt:  # run(): the notebook's stop button; keep the partial text
            stream.close()
            reply = stream.reply
        except StreamError as exc:
            self.exception = exc
            reply = exc.reply or stream.reply
            log.warning("reply ended early: %s", exc.message)
        except APIError as exc:
            self.exception = exc
            reply = stream.reply
            log.warning("request failed: %s", exc.message)
        except Exception as exc:  # never let an exception vanish in a thread
            self.exception = exc
            log.exception("nbchat worker failed")
            reply = Reply(
                content=stream.text,
                status="error",
                error=f"internal error: {type(exc).__name__}: {exc}",
                model=self.model,
            )
        finally:
            flusher_stop.set()
            if flusher.is_alive():
                flusher.join()
            self._flush()
            if reply is None:
                reply = stream.reply or Reply(
                    content=stream.text, status="cancelled", model=self.model
                )
            self.reply = reply
            self.message = Message.from_reply(
                reply,
                message_id=self.message_id,
                request_id=self.request_id,
                created_at=self.created_at,
                model=self.model,
                params=self.params,
            ).to_dict()
            try:
                self._sink.finish(self.message)
            except Exception:
                log.exception("nbchat could not commit the reply to the panel")
            self._done.set()

    def _flush_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self._flush_interval):
            self._flush()

    def _flush(self) -> None:
        with self._send_lock:
            with self._lock:
                if not self._pending:
                    return
                text = "".join(self._pending)
                self._pending.clear()
                self._text.append(text)
                self._seq += 1
                seq = self._seq
            # Outside _lock: a snapshot taken meanwhile may already include this delta; the
            # front end then drops the delta as a duplicate (seq <= its seq).
            try:
                self._sink.delta(self.request_id, seq, text)
            except Exception:
                log.exception("nbchat could not send a delta to the panel")
