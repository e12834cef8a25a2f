"""KeyboardInterrupt (the notebook's stop button): streams closed within a second, finished
rows kept and cached, the rest cancelled, and the partial frame returned."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import nbchat
from nbchat.runs.batch import engine
from nbchat.runs.batch import run as batch_run
from nbchat.server import Server


def _interrupt_after(seconds: float) -> list[float]:
    sent: list[float] = []

    def fire() -> None:
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Timer(seconds, fire).start()
    return sent


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to the own process")
def test_interrupt_returns_the_partial_frame_quickly(
    server: Server, egp: nbchat.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [f"Row {i}: what is a token?" for i in range(2)]
    texts += [f"Row {i}: " + "word " * 400 for i in range(2, 12)]  # 400 tokens at 100/s: 4 s
    cache = tmp_path / "c.sqlite"
    handler = signal.getsignal(signal.SIGINT)
    runs: list[engine.RunStats] = []
    original = batch_run.run_jobs

    def run_jobs(*args: Any, **kwargs: Any) -> Any:
        runs.append(kwargs["stats"])  # the engine's own counters, for when it closed streams
        return original(*args, **kwargs)

    monkeypatch.setattr(batch_run, "run_jobs", run_jobs)
    sent = _interrupt_after(1.5)
    out = nbchat.batch(
        texts, "{text}", model="echo?tps=100", client=egp, concurrency=6, cache=cache,
        progress=False,
    )  # fmt: skip
    returned = time.monotonic()
    assert sent and len(runs) == 1
    stopped = runs[0].stopped_at
    # the streams in flight were closed within a second of the interrupt (issue 12) ...
    assert stopped is not None and stopped - sent[0] < 1.0
    # ... and the run returned once they had reported, or after the grace period at most
    # (CANCEL_GRACE_S; what is left is building the frame)
    assert returned - stopped < engine.CANCEL_GRACE_S + 1.0
    statuses = out["status"].tolist()
    assert statuses[:2] == ["complete", "complete"]  # finished rows kept
    assert set(statuses[2:]) == {"cancelled"}
    # the ones in flight kept their partial text; the ones never sent have none
    in_flight = out.iloc[2:][out.iloc[2:]["attempts"] > 0]
    assert len(in_flight) >= 4 and (in_flight["content"].str.len() > 0).all()
    never = out.iloc[2:][out.iloc[2:]["attempts"] == 0]
    assert len(never) >= 2 and never["content"].isna().all()
    assert nbchat.batch_stats(out).interrupted
    # the Ctrl+C handler is the previous one again
    assert signal.getsignal(signal.SIGINT) is handler
    again = nbchat.batch(texts[:2], "{text}", model="echo?tps=100", client=egp, cache=cache,
                         progress=False)  # fmt: skip
    assert again["cached"].all()  # the finished rows were cached


def test_keyboard_interrupt_off_the_main_thread(server: Server, egp: nbchat.Client) -> None:
    """Off the main thread no signal handler can be set; a KeyboardInterrupt raised in the
    coordinator (as a kernel would) is handled the same way."""
    from nbchat.runs.batch import engine

    calls = {"n": 0}
    result: dict[str, object] = {}

    def tick(stats: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    original = engine.run_jobs

    def run_jobs(*args: object, **kwargs: object) -> object:
        kwargs["tick"] = tick
        return original(*args, **kwargs)  # type: ignore[arg-type]

    def work() -> None:
        engine_run = engine.run_jobs
        try:
            import nbchat.runs.batch.run as run_module

            run_module.run_jobs = run_jobs  # type: ignore[assignment]
            result["out"] = nbchat.batch(
                ["word " * 300] * 1 + [f"{i} " + "word " * 300 for i in range(5)],
                "{text}", model="echo?tps=100", client=egp, concurrency=2, progress=False,
            )  # fmt: skip
        finally:
            run_module.run_jobs = engine_run  # type: ignore[assignment]

    t = threading.Thread(target=work)
    t0 = time.monotonic()
    t.start()
    t.join(20)
    assert time.monotonic() - t0 < 3
    out = result["out"]
    assert set(out["status"]) == {"cancelled"}  # type: ignore[index]
