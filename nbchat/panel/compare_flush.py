"""One flusher per comparison widget: every column's pending text in one message.

Each column's :class:`~nbchat.runs.turn.Turn` hands its numbered deltas to its sink; the sink
queues them here, and one thread sends whatever is queued as a single ``deltas`` message every
``interval`` seconds. The widget thus sends at most ``1 / interval`` updates per second
however many columns stream (jupyter_server drops widget messages above 1,000/s).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["COMPARE_FLUSH_INTERVAL_S", "DeltaBatcher"]

log = logging.getLogger("nbchat")

#: Seconds between the widget's ``deltas`` messages: 20 per second, which leaves room under
#: 30 updates per second for the trait updates of each column's start and commit.
COMPARE_FLUSH_INTERVAL_S = 0.05


class DeltaBatcher:
    """Queues delta items; sends them in batches from one thread while it runs."""

    def __init__(
        self, send: Callable[[dict[str, Any]], None], interval: float = COMPARE_FLUSH_INTERVAL_S
    ) -> None:
        self._send = send
        self.interval = interval
        self._lock = threading.Lock()  # guards _items and _thread
        self._send_lock = threading.Lock()  # orders the sends
        self._items: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Messages sent (for tests and benchmarks).
        self.sent = 0

    def add(self, item: dict[str, Any]) -> None:
        with self._lock:
            self._items.append(item)
        if sys.platform == "emscripten":  # no thread in Pyodide: send at once
            self.flush()

    def start(self) -> None:
        """Run the flusher thread (if it is not running yet)."""
        if sys.platform == "emscripten":
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,), name="nbchat-compare-flush", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after one last flush."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)
        self.flush()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        """Send what is queued, now, as one message (nothing if nothing is queued)."""
        with self._send_lock:
            with self._lock:
                items, self._items = self._items, []
            if not items:
                return
            try:
                self._send({"type": "deltas", "items": items})
                self.sent += 1
            except Exception:
                log.exception("nbchat could not send deltas to the comparison")
