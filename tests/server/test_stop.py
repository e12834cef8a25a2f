"""Stopping the embedded server ends streams still open instead of leaving them hanging."""

from __future__ import annotations

import threading
import time

import pytest

import nbchat


def test_stop_ends_an_open_stream_promptly() -> None:
    server = nbchat.serve(tokens_per_second=5)
    client = nbchat.Client(base_url=server.url + "/egp/v1", timeout=(5, 60))
    stream = client.stream([{"role": "user", "content": "hi"}], model="demo")
    stopper = threading.Timer(1.0, server.stop)
    stopper.start()
    t0 = time.monotonic()
    with pytest.raises(nbchat.StreamError, match="dropped"):
        for _ in stream:
            pass
    took = time.monotonic() - t0
    stopper.join()
    # 1 s before the stop plus uvicorn's 1 s grace period; far below the 60 s read timeout.
    assert took < 10, took
    assert stream.reply is not None and stream.reply.status == "incomplete"
    assert stream.reply.content  # the partial text is kept
    assert not server.running
