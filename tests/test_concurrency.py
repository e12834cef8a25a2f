"""Threads against the panel and the stream: stop/send storms, many panels, close() races,
and exceptions raised inside the worker thread."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import nbchat
from nbchat.panel import ChatPanel

MODEL_STOPPED = "demo?tps=200"


class Recording(ChatPanel):
    """Records every delta sent to the front end and every commit, in order."""

    def send_msg(self, content: dict[str, Any]) -> None:
        self.__dict__.setdefault("sent", []).append(content)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        commit = self._runner.finish

        def finish(message: dict[str, Any]) -> None:
            commit(message)
            self.__dict__.setdefault("sent", []).append(
                {"type": "committed", "request_id": message["request_id"]}
            )

        self._runner.finish = finish  # type: ignore[method-assign]


def _panel(server: Any, model: str) -> Recording:
    client = nbchat.Client(base_url=server.url + "/egp/v1", api_key=None, max_retries=0)
    return Recording(client=client, model=model)


def _check_consistent(panel: Recording) -> None:
    """Every committed reply equals its own deltas; none arrives after its commit."""
    sent: list[dict[str, Any]] = list(panel.__dict__.get("sent", []))
    bots = [m for m in panel.messages if m["role"] == "assistant"]
    ids = [m["request_id"] for m in bots]
    assert len(ids) == len(set(ids)), "an assistant request_id repeats"
    committed: set[str] = set()
    texts: dict[str, list[str]] = {}
    for event in sent:
        rid = event.get("request_id")
        if event["type"] == "committed":
            committed.add(rid)  # type: ignore[arg-type]
        elif event["type"] == "delta":
            assert rid not in committed, "a stale delta arrived after its reply was committed"
            texts.setdefault(rid, []).append(event["text"])  # type: ignore[arg-type]
    for m in bots:
        assert "".join(texts.get(m["request_id"], [])) == m["content"]
    assert set(texts) <= set(ids), "a delta belongs to no committed reply"


def test_stop_then_send_storm(live_server: Any) -> None:
    panel = _panel(live_server, MODEL_STOPPED)
    sends = 0
    statuses: dict[str, int] = {}
    for i in range(100):
        finish = i % 10 == 9
        turn = panel.send(f"message {i}")
        sends += 1
        if finish:
            reply = turn.wait(10)
            assert reply.status == "complete" and reply.content
        else:
            panel.stop()
            assert turn.done, "stop() returned before the reply was committed"
        assert panel.status == "idle", f"status {panel.status!r} after the turn ended"
        assert panel.streaming == {}
        last = panel.messages[-1]
        assert last["role"] == "assistant" and last["request_id"] == turn.request_id
        assert last["status"] == ("complete" if finish else "stopped")
        statuses[last["status"]] = statuses.get(last["status"], 0) + 1
        _check_consistent(panel)
    users = [m for m in panel.messages if m["role"] == "user"]
    assert len(users) == sends == 100
    assert statuses["complete"] == 10 and statuses["stopped"] == 90


def test_eight_panels_stream_at_once(live_server: Any) -> None:
    texts = [" ".join(f"p{p}w{w}" for w in range(60)) + f" — panel {p} 🌍" for p in range(8)]
    panels = [_panel(live_server, "echo?tps=500") for _ in texts]
    barrier = threading.Barrier(len(panels))
    turns: list[Any] = [None] * len(panels)

    def go(i: int) -> None:
        barrier.wait()
        turns[i] = panels[i].send(texts[i])

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(panels))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    time.sleep(0.05)
    assert sum(p.status == "streaming" for p in panels) >= 2, "the panels did not overlap"
    for panel, text, turn in zip(panels, texts, turns, strict=True):
        reply = turn.wait(20)
        assert reply.status == "complete" and reply.content == text
        assert [m["content"] for m in panel.messages] == [text, text]
        assert panel.status == "idle"
        _check_consistent(panel)


@pytest.fixture
def thread_errors() -> Iterator[list[Any]]:
    errors: list[Any] = []
    previous = threading.excepthook
    threading.excepthook = errors.append
    try:
        yield errors
    finally:
        threading.excepthook = previous


def test_close_races_the_last_chunk(live_server: Any, thread_errors: list[Any]) -> None:
    text = "a short reply that ends now"
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", max_retries=0)
    msgs = [{"role": "user", "content": text}]

    # How long a whole stream takes, so the closes land around its end.
    durations = []
    for _ in range(5):
        t0 = time.monotonic()
        with client.stream(msgs, model="echo?tps=0") as s:
            list(s)
        durations.append(time.monotonic() - t0)
    typical = sorted(durations)[2]

    rng = random.Random(1234)
    seen: dict[str, int] = {}
    for _ in range(200):
        stream = client.stream(msgs, model="echo?tps=0")
        started = threading.Event()

        def consume(s: nbchat.Stream = stream, go: threading.Event = started) -> None:
            with s:
                go.set()
                for _chunk in s:
                    pass

        reader = threading.Thread(target=consume)
        delay = rng.uniform(0.5, 1.3) * typical
        closer = threading.Timer(delay, stream.close)
        reader.start()
        started.wait(5)
        closer.start()
        reader.join(10)
        closer.join(10)
        assert not reader.is_alive()
        reply = stream.reply
        assert reply is not None
        assert reply.status in ("complete", "cancelled")
        if reply.status == "complete":
            assert reply.content == text
        else:
            assert text.startswith(reply.content)
        seen[reply.status] = seen.get(reply.status, 0) + 1
    assert thread_errors == []
    assert set(seen) == {"complete", "cancelled"}, f"the closes missed the race: {seen}"
    assert sum(seen.values()) == 200


class _Exploding:
    """Looks like a Stream; raises an unexpected error once iteration has begun."""

    text = "partial "
    reply = None

    def __enter__(self) -> _Exploding:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        yield nbchat.Chunk("partial ")
        raise RuntimeError("boom in the stream")


class _ExplodingClient(nbchat.Client):
    def stream(self, messages: Any, model: str, **params: Any) -> Any:
        return _Exploding()


def test_worker_exceptions_never_vanish(
    caplog: pytest.LogCaptureFixture, thread_errors: list[Any]
) -> None:
    panel = Recording(client=_ExplodingClient(base_url="http://127.0.0.1:9"), model="m")
    with caplog.at_level(logging.DEBUG, logger="nbchat"):
        reply = panel.send("hello").wait(5)
    assert reply.status == "error"
    assert panel.status == "error"
    assert "boom in the stream" in panel.error and "RuntimeError" in panel.error
    last = panel.messages[-1]
    assert last["status"] == "error" and "boom in the stream" in last["error"]
    assert last["content"] == "partial "  # the text before the failure is kept
    records = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert records, "the traceback was not logged"
    assert "Traceback" in caplog.text and "boom in the stream" in caplog.text
    assert thread_errors == []
