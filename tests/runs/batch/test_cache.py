"""cache=: resume without a request, a killed process resumed with no row asked twice
(counted at the server), and a key canary that never reaches the cache or the frame."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd

import nbchat
from nbchat.server import Server, serve
from nbchat.server.app import messages_digest

from .conftest import chat_requests

CANARY = "sk-canary-7d1f0b3e9a-never-store-me"


def test_a_rerun_returns_cached_rows_without_a_request(
    server: Server, egp: nbchat.Client, frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "runs" / "cache.sqlite"
    first = nbchat.batch(frame, "{text}", model="demo", client=egp, cache=path, progress=False)
    assert server.stats()["requests"] == len(frame) and not first["cached"].any()
    again = nbchat.batch(frame, "{text}", model="demo", client=egp, cache=path, progress=False)
    assert server.stats()["requests"] == len(frame)  # nothing new was sent
    assert again["cached"].all() and (again["attempts"] == 0).all()
    cols = ["content", "status", "prompt_tokens", "completion_tokens", "request_hash"]
    pd.testing.assert_frame_equal(first[cols], again[cols])
    assert nbchat.batch_stats(again).cached == len(frame)
    # another prompt, another parameter, another model: different keys, no collision
    other = nbchat.batch(
        frame, "{text}", model="demo", client=egp, cache=path, progress=False, temperature=0
    )
    assert not other["cached"].any()
    assert server.stats()["requests"] == 2 * len(frame)


def test_only_complete_replies_are_cached(
    server: Server, egp: nbchat.Client, tmp_path: Path
) -> None:
    path = tmp_path / "c.sqlite"
    texts = ["a b c d e f", "g h i j k l"]
    out = nbchat.batch(
        texts, "{text}", model="echo?fault=drop&after=2&times=1", client=egp, cache=path,
        progress=False,
    )  # fmt: skip
    assert sorted(out["status"]) == ["complete", "incomplete"]
    again = nbchat.batch(
        texts, "{text}", model="echo?fault=drop&after=2&times=1", client=egp, cache=path,
        progress=False,
    )  # fmt: skip
    assert (again["status"] == "complete").all()
    assert list(again["cached"]) == list(out["status"] == "complete")


def test_the_key_never_reaches_the_cache_or_the_frame(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "canary.sqlite"
    with nbchat.Client(base_url=server.url + "/v1", api="openai", api_key=CANARY) as client:
        out = nbchat.batch(
            ["What is a token?", "Hello"], "{text}", model="demo", client=client, cache=path,
            progress=False, schema={"type": "object", "properties": {"topic": {"type": "string"}}},
        )  # fmt: skip
        plan = nbchat.batch(
            ["x"], "{text}", model="demo", client=client, dry_run=True, progress=False
        )
    assert (out["status"] == "complete").all()
    blobs = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert CANARY.encode() not in blobs and b"canary" not in blobs
    for frame in (out, plan):
        text = frame.to_csv() + repr(frame.attrs) + frame.to_json()
        assert CANARY not in text


_SCRIPT = textwrap.dedent(
    """
    import sys, nbchat
    url, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = nbchat.Client(base_url=url + "/egp/v1")
    texts = [f"What is a token? Row {i}." for i in range(n)]
    nbchat.batch(texts, "{text}", model="demo?tps=60", client=client, cache=path,
                 concurrency=4, progress=False)
    print("finished", flush=True)
    """
)


def _cached_keys(path: Path) -> set[str]:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return {row[0] for row in db.execute("SELECT request_hash FROM replies")}
    except sqlite3.OperationalError:  # the file exists, its table not yet
        return set()


def test_a_killed_run_resumes_and_no_finished_row_is_requested_twice(tmp_path: Path) -> None:
    n = 24
    path = tmp_path / "killed.sqlite"
    texts = [f"What is a token? Row {i}." for i in range(n)]
    digest = {messages_digest([{"role": "user", "content": t}]): t for t in texts}
    with serve(tokens_per_second=0) as server:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, server.url, str(path), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if path.exists() and len(_cached_keys(path)) >= 6:
                    break
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)  # no cleanup, no atexit, no final commit
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        done_before = _cached_keys(path)
        assert 6 <= len(done_before) < n
        before = len(chat_requests(server))
        client = nbchat.Client(base_url=server.url + "/egp/v1")
        plan = nbchat.batch(texts, "{text}", model="demo?tps=60", client=client, dry_run=True)
        finished_texts = {
            t for t, k in zip(texts, plan["request_hash"], strict=True) if k in done_before
        }
        out = nbchat.batch(
            texts, "{text}", model="demo?tps=60", client=client, cache=path, concurrency=8,
            progress=False,
        )  # fmt: skip
        client.close()
        resumed = chat_requests(server)[before:]
    assert (out["status"] == "complete").all()
    assert int(out["cached"].sum()) == len(done_before)
    # the resumed run asked exactly the rows the killed one had not finished, once each
    asked = [digest[r["digest"]] for r in resumed]
    assert len(asked) == n - len(done_before) == len(set(asked))
    assert not set(asked) & finished_texts
    # and the cache now holds every row
    assert _cached_keys(path) == set(out["request_hash"])
    json.dumps(nbchat.batch_stats(out).to_dict())  # plain data
