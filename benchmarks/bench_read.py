"""CPU cost of the read path against a server that costs nothing: the seed's loop vs nbchat.

::

    python benchmarks/bench_read.py [--events 100000] [--reps 5] [--framing chunked|close]

A raw socket writer in a process of its own answers every POST with pre-built bytes:
``--events`` small events (``"tok "`` deltas), EGP-shaped on ``.../chat-completions`` and
OpenAI-shaped (role chunk, text chunks, finish chunk, usage chunk, ``[DONE]``) on
``.../chat/completions``. With ``--framing chunked`` (the default) every event is one HTTP
chunk, as uvicorn and other servers flush them; ``close`` sends a close-delimited body.
The server does no work per request, so what is measured is the reader alone.

Four readers, each assembling the whole text:

(a) bare loop, the seed's code: ``requests.post(..., stream=True)``, ``iter_lines()``,
    ``json.loads`` of every ``data:`` line;
(b) nbchat: ``nbchat.Client(...).stream(...)`` iterated to the end, exactly as a user does;
(c) sseclient-py 1.9 over requests (``SSEClient(response).events()`` + ``json.loads``);
(d) ceiling: nbchat's read loop (``nbchat.transport.http.iter_body``), split on blank
    lines, ``orjson.loads`` (no WHATWG rules at all: no CR, BOM, comments or split UTF-8).

Each repetition runs every reader once per shape, in turn. The CPU time of the reading
thread (``time.thread_time``) is measured, so other processes on a busy machine do not
count; the table gives the median over repetitions, CPU seconds per 10,000 events, events
per CPU-second and the ratio to the bare loop's events per CPU-second (> 1 = faster than
the seed). nbchat posts its request from a helper thread (so a close() can abandon a server
that never answers); that one POST per 100,000 events is not in the reading thread's time.
Exits 1 if a reader assembles the wrong text.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import orjson
import requests
import sseclient

import nbchat
from nbchat.transport.http import iter_body

MESSAGES = [{"role": "user", "content": "benchmark"}]
TOKEN = "tok "

# -- the server (runs in a process of its own: ``bench_read.py --serve N FRAMING``) --------


def egp_events(n: int) -> list[bytes]:
    ev = json.dumps(
        {
            "chat_completion": {
                "message": {"role": "agent", "content": TOKEN},
                "finish_reason": None,
            },
            "token_usage": None,
        }
    )
    last = json.dumps(
        {
            "chat_completion": {
                "message": {"role": "agent", "content": TOKEN},
                "finish_reason": "stop",
            },
            "token_usage": {"prompt": 1, "completion": n, "total": n + 1},
        }
    )
    return [f"data: {ev}\n\n".encode()] * (n - 1) + [f"data: {last}\n\n".encode()]


def openai_events(n: int) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **kw: Any) -> bytes:
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **kw,
        }
        return f"data: {json.dumps(body, separators=(',', ':'))}\n\n".encode()

    usage = {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1}
    head = chunk({"role": "assistant", "content": ""})
    text = chunk({"content": TOKEN})
    done = chunk({}, "stop")
    tail = (
        f"data: {json.dumps({'id': 'chatcmpl-1', 'choices': [], 'usage': usage})}\n\n"
        "data: [DONE]\n\n"
    ).encode()
    return [head] + [text] * n + [done, tail]


def build_response(events: list[bytes], framing: str) -> bytes:
    if framing == "chunked":
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
        return head + body
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
    return head + b"".join(events)


def serve(n: int, framing: str) -> None:
    bodies = {
        "egp": build_response(egp_events(n), framing),
        "openai": build_response(openai_events(n), framing),
    }
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)

    def handle(conn: socket.socket) -> None:
        with conn:
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf[length:]
                path = head.split(b" ", 2)[1]
                shape = "openai" if path.endswith(b"/chat/completions") else "egp"
                try:
                    conn.sendall(bodies[shape])
                except OSError:
                    return
                if framing != "chunked":
                    conn.shutdown(socket.SHUT_WR)
                    return

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def start(n: int, framing: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(n), framing],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


# -- the readers ----------------------------------------------------------------------------


def egp_text(obj: Any) -> str:
    content: str = obj["chat_completion"]["message"]["content"]
    return content


def openai_text(obj: Any) -> str:
    choices = obj["choices"]
    if choices:
        content = choices[0]["delta"].get("content")
        if content:
            return str(content)
    return ""


def bare_loop(url: str, shape: str) -> str:
    payload = {"model": "bench", "messages": MESSAGES, "stream": True}
    text_of = egp_text if shape == "egp" else openai_text
    parts: list[str] = []
    with requests.post(url, json=payload, stream=True, timeout=60) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith(b"data: "):
                if line == b"data: [DONE]":
                    break
                parts.append(text_of(json.loads(line[6:])))
    return "".join(parts)


def sseclient_loop(url: str, shape: str) -> str:
    payload = {"model": "bench", "messages": MESSAGES, "stream": True}
    text_of = egp_text if shape == "egp" else openai_text
    parts: list[str] = []
    with requests.post(url, json=payload, stream=True, timeout=60) as r:
        r.raise_for_status()
        for event in sseclient.SSEClient(r).events():  # type: ignore[arg-type]
            if event.data == "[DONE]":
                break
            if event.data:
                parts.append(text_of(json.loads(event.data)))
    return "".join(parts)


def ceiling(url: str, shape: str) -> str:
    payload = {"model": "bench", "messages": MESSAGES, "stream": True}
    text_of = egp_text if shape == "egp" else openai_text
    parts: list[str] = []
    loads = orjson.loads
    with requests.post(url, json=payload, stream=True, timeout=60) as r:
        r.raise_for_status()
        rest = b""
        for data in iter_body(r):
            *events, rest = (rest + data if rest else data).split(b"\n\n")
            for ev in events:
                if ev == b"data: [DONE]":
                    return "".join(parts)
                parts.append(text_of(loads(ev[6:])))
    return "".join(parts)


def nbchat_reader(base: str, shape: str) -> Callable[[], str]:
    if shape == "egp":
        client = nbchat.Client(base_url=base + "/egp/v1", api_key="bench")
    else:
        client = nbchat.Client(base_url=base + "/v1", api_key="bench", api="openai")

    def run() -> str:
        with client.stream(MESSAGES, model="bench") as stream:
            for _chunk in stream:
                pass
        assert stream.reply is not None and stream.reply.status == "complete", stream.reply
        return stream.reply.content

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per stream")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (median is reported)")
    parser.add_argument("--framing", choices=["chunked", "close"], default="chunked")
    parser.add_argument("--only", default="", help="comma-separated reader keys (profiling)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="no price for model")  # the bench model

    proc, base = start(args.events, args.framing)
    try:
        urls = {"egp": base + "/egp/v1/chat-completions", "openai": base + "/v1/chat/completions"}
        readers: dict[str, dict[str, Callable[[], str]]] = {}
        for shape, url in urls.items():
            readers[shape] = {
                "bare": lambda u=url, s=shape: bare_loop(u, s),
                "nbchat": nbchat_reader(base, shape),
                "sseclient": lambda u=url, s=shape: sseclient_loop(u, s),
                "ceiling": lambda u=url, s=shape: ceiling(u, s),
            }
        if args.only:
            keep = set(args.only.split(","))
            readers = {s: {k: f for k, f in r.items() if k in keep} for s, r in readers.items()}
        expected = TOKEN * args.events
        cpu: dict[tuple[str, str], list[float]] = {}
        bad: list[str] = []
        for group in readers.values():  # warm-up: connections, imports, first calls
            for fn in group.values():
                fn()
        for _ in range(args.reps):
            for shape, group in readers.items():
                for key, fn in group.items():
                    t0 = time.thread_time()
                    text = fn()
                    cpu.setdefault((shape, key), []).append(time.thread_time() - t0)
                    if text != expected:
                        bad.append(f"{shape}/{key}: {len(text)} chars, expected {len(expected)}")
    finally:
        proc.terminate()
        proc.wait(10)

    names = {
        "bare": "bare loop (requests iter_lines + json)",
        "nbchat": "nbchat Client.stream",
        "sseclient": "sseclient-py 1.9 + json",
        "ceiling": "ceiling (split on blank lines + orjson)",
    }
    print(
        f"{args.events:,} events per stream, {args.reps} repetitions, framing {args.framing}; "
        f"server: raw socket writer in its own process"
    )
    print(
        f"python {sys.version.split()[0]}, requests {requests.__version__}, "
        f"nbchat {nbchat.__version__}, orjson {orjson.__version__}"
    )
    for shape, group in readers.items():
        print()
        print(f"{shape.upper()}")
        print(
            f"{'reader':<42} {'CPU-s/10k ev':>12} {'min':>7} {'max':>7} "
            f"{'events/CPU-s':>13} {'vs bare':>8}"
        )
        base_rate = None
        if (shape, "bare") in cpu:
            base_rate = args.events / statistics.median(cpu[(shape, "bare")])
        for key in group:
            ts = cpu[(shape, key)]
            med = statistics.median(ts)
            rate = args.events / med
            scale = 10_000 / args.events
            ratio = f"{rate / base_rate:.2f}×" if base_rate else "-"
            print(
                f"{names[key]:<42} {med * scale:>12.4f} {min(ts) * scale:>7.4f} "
                f"{max(ts) * scale:>7.4f} {rate:>13,.0f} {ratio:>8}"
            )
    if bad:
        print("\nWRONG TEXT: " + "; ".join(bad))
        return 1
    print("\nall readers assembled the expected text")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(main())
