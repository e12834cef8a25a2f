"""rpm and tpm held over every window, measured where requests leave the client.

The engine's window is an internal parameter (``window=``); a 2 s window stands in for the
minute, so the test takes seconds, and the arithmetic is the same (``test_limits.py`` checks it
over a simulated 60 s window)."""

from __future__ import annotations

import time
from typing import Any

import pytest

import nbchat
from nbchat.runs.batch.limits import Limits
from nbchat.runs.batch.run import run_batch
from nbchat.server import Server
from nbchat.transport import http

WINDOW = 2.0


def _max_in_window(events: list[tuple[float, float]], window: float) -> float:
    best = 0.0
    for i, (t, _) in enumerate(events):
        best = max(best, sum(c for u, c in events[: i + 1] if u > t - window))
    return best


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The time each HTTP request is sent (the transport's post)."""
    times: list[float] = []
    post = http.post

    def timed(*args: Any, **kwargs: Any) -> Any:
        times.append(time.monotonic())
        return post(*args, **kwargs)

    monkeypatch.setattr(http, "post", timed)
    return times


def test_rpm_holds_over_every_window(
    server: Server, egp: nbchat.Client, sends: list[float]
) -> None:
    rpm = 20  # per WINDOW seconds here
    texts = [f"row {i}" for i in range(50)]
    t0 = time.monotonic()
    out = run_batch(
        texts, "{text}", "echo", client=egp, rpm=rpm, concurrency=16, progress=False,
        window=WINDOW,
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    assert (out["status"] == "complete").all() and len(sends) == 50
    assert _max_in_window([(t, 1) for t in sends], WINDOW) <= rpm * 1.05
    # and not much slower than the limit requires: 50 requests at 10/s after a burst of 3
    assert 3.5 <= elapsed <= 9.0


def test_tpm_holds_over_every_window_with_retries_counted(
    server: Server, egp: nbchat.Client, sends: list[float]
) -> None:
    tpm = 600
    limits = Limits(8, None, tpm, window=WINDOW)
    charged: list[tuple[float, float]] = []
    acquire = limits.acquire

    def recording(cost: float, now: float) -> float:
        wait = acquire(cost, now)
        if wait == 0:
            charged.append((now, cost))
        return wait

    limits.acquire = recording  # type: ignore[method-assign]
    texts = [f"row {i} " + "word " * 20 for i in range(30)]
    out = run_batch(
        texts, "{text}", "echo?fault=500&rate=0.2&seed=3", client=egp, progress=False,
        params={"max_tokens": 30}, limits=limits,
    )  # fmt: skip
    assert (out["status"] == "complete").all()
    assert len(charged) == len(sends) == int(out["attempts"].sum()) > 30  # retries too
    assert _max_in_window(charged, WINDOW) <= tpm * 1.05
    # every request is charged at least its completion cap
    assert min(c for _, c in charged) >= 30
    stats = nbchat.batch_stats(out)
    assert stats.retries == len(sends) - 30 == server.stats()["faults"].get("500", 0)


def test_limits_are_shared_by_engines_of_one_process(
    server: Server, egp: nbchat.Client, sends: list[float]
) -> None:
    """Two runs on one Limits (a Dask worker's partitions) stay within it together."""
    import threading

    limits = Limits(4, 10, None, window=WINDOW)
    outs: list[Any] = []

    def one(tag: str) -> None:
        outs.append(
            run_batch([f"{tag}{i}" for i in range(10)], "{text}", "echo", client=egp,
                      progress=False, limits=limits)
        )  # fmt: skip

    threads = [threading.Thread(target=one, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(outs) == 2 and all((o["status"] == "complete").all() for o in outs)
    assert len(sends) == 20
    assert _max_in_window([(t, 1) for t in sends], WINDOW) <= 10
