"""The turn runner, with a recording sink and a real server (no kernel, no widget)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import nbchat
from nbchat.runs.turn import FLUSH_INTERVAL_S, Turn


class ListSink:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def begin(self, turn: Turn) -> None:
        self.events.append(("begin", turn.request_id))

    def delta(self, request_id: str, seq: int, text: str) -> None:
        with self.lock:
            self.events.append(("delta", (request_id, seq, text, time.monotonic())))

    def finish(self, message: dict[str, Any]) -> None:
        self.events.append(("finish", message))

    def deltas(self) -> list[tuple[str, int, str, float]]:
        return [e[1] for e in self.events if e[0] == "delta"]


def _client(server: Any) -> nbchat.Client:
    return nbchat.Client(base_url=server.url + "/egp/v1", api_key="k")


def _turn(server: Any, model: str, text: str = "hello", sink: ListSink | None = None) -> Turn:
    return Turn(_client(server), [{"role": "user", "content": text}], model, {}, sink or ListSink())


def test_deltas_are_coalesced_numbered_and_complete(live_server: Any) -> None:
    sink = ListSink()
    text = "word " * 2000  # 2,000 tokens at 5,000 tok/s: ~0.4 s of streaming
    turn = _turn(live_server, "echo?tps=5000", text, sink).start()
    reply = turn.wait(30)
    assert reply.status == "complete"
    deltas = sink.deltas()
    assert "".join(d[2] for d in deltas) == text == reply.content
    assert [d[1] for d in deltas] == list(range(1, len(deltas) + 1))
    assert {d[0] for d in deltas} == {turn.request_id}
    # Coalesced: far fewer updates than tokens, and never faster than the flush interval allows.
    assert len(deltas) < 2000 / 10
    span = deltas[-1][3] - deltas[0][3]
    assert (len(deltas) - 1) / max(span, 1e-9) <= 1.5 / FLUSH_INTERVAL_S
    kinds = [e[0] for e in sink.events]
    assert kinds[0] == "begin" and kinds[-1] == "finish" and kinds.count("finish") == 1
    msg = sink.events[-1][1]
    assert msg["status"] == "complete" and msg["content"] == text
    assert msg["usage"]["completion"] == reply.usage.completion  # type: ignore[union-attr]


def test_text_is_flushed_while_the_stream_stalls(live_server: Any) -> None:
    sink = ListSink()
    turn = _turn(live_server, "demo?fault=stall-mid&after=3&stall=3", sink=sink).start()
    deadline = time.monotonic() + 2
    while not sink.deltas() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.deltas(), "the first tokens must reach the sink before the stall ends"
    turn.stop()
    assert turn.wait(2).status == "cancelled"


def test_stop_keeps_partial_text_marked_stopped(live_server: Any) -> None:
    sink = ListSink()
    turn = _turn(live_server, "demo?tps=50", sink=sink).start()
    time.sleep(0.3)
    t0 = time.monotonic()
    turn.stop()
    assert time.monotonic() - t0 < 0.2
    reply = turn.wait(1)
    msg = sink.events[-1][1]
    assert reply.status == "cancelled" and msg["status"] == "stopped"
    assert msg["content"] and msg["content"] == "".join(d[2] for d in sink.deltas())


@pytest.mark.parametrize(
    ("model", "status", "words"),
    [
        ("demo?fault=drop&after=3", "interrupted", "dropped"),
        ("demo?fault=error-event&after=3", "error", "overloaded"),
        ("demo?fault=401", "error", "authentication failed"),
    ],
)
def test_errors_end_in_state_with_partial_text(
    live_server: Any, model: str, status: str, words: str
) -> None:
    sink = ListSink()
    reply = _turn(live_server, model, sink=sink).start().wait(10)
    msg = sink.events[-1][1]
    assert msg["status"] == status
    assert words in msg["error"].lower()
    assert msg["content"] == reply.content == "".join(d[2] for d in sink.deltas())


def test_an_exception_in_the_sink_never_vanishes(live_server: Any, caplog: Any) -> None:
    class Broken(ListSink):
        def delta(self, request_id: str, seq: int, text: str) -> None:
            raise RuntimeError("comm closed")

    sink = Broken()
    reply = _turn(live_server, "demo", sink=sink).start().wait(10)
    assert reply.status == "complete"  # the reply itself is still committed
    assert sink.events[-1][0] == "finish"
    assert "could not send a delta" in caplog.text
