"""Client-side cost of reading a fast stream: the seed's bare loop vs nbchat vs sseclient-py.

::

    python benchmarks/bench_stream.py [--chunks 20000] [--rounds 5] [--in-process]

Starts the embedded server in a process of its own (``python -m nbchat.server``; with
``--in-process``, ``nbchat.serve()`` in this process) and reads
``bench?chunks=N&tps=0`` from the EGP endpoint with

(a) the seed's bare loop: ``requests.post(..., stream=True)`` + ``iter_lines()`` +
    ``json.loads`` of every ``data:`` line, accumulating ``chat_completion.message.content``;
(b) ``nbchat.Client.stream`` consuming every chunk;
(c) ``sseclient.SSEClient(response)`` (sseclient-py over requests), for reference.

Each round runs the three once, in turn; the table shows the median over rounds; the ratio
between readers is what matters. By default the server has a process of its own, as a real
server does, so the reader's own cost is what is measured. In-process, the server shares the
GIL with the reader and the times mostly measure the two taking turns. Every reader must
assemble the same text.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests
import sseclient

import nbchat
from nbchat.server import serve

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import start_server

MESSAGES = [{"role": "user", "content": "benchmark"}]


def bare_loop(url: str, model: str) -> str:
    payload = {"model": model, "messages": MESSAGES, "stream": True}
    parts: list[str] = []
    with requests.post(url, json=payload, stream=True, timeout=60) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                parts.append(event["chat_completion"]["message"]["content"])
    return "".join(parts)


def nbchat_stream(client: nbchat.Client, model: str) -> str:
    with client.stream(MESSAGES, model=model) as stream:
        for _chunk in stream:
            pass
    assert stream.reply is not None and stream.reply.status == "complete", stream.reply
    return stream.reply.content


def sseclient_loop(url: str, model: str) -> str:
    payload = {"model": model, "messages": MESSAGES, "stream": True}
    parts: list[str] = []
    with requests.post(url, json=payload, stream=True, timeout=60) as r:
        r.raise_for_status()
        for event in sseclient.SSEClient(r).events():
            if event.data:
                parts.append(json.loads(event.data)["chat_completion"]["message"]["content"])
    return "".join(parts)


def timed(fn: Callable[[], str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    text = fn()
    return time.perf_counter() - t0, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=20000, help="events per stream")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (median is reported)")
    parser.add_argument("--in-process", action="store_true", help="serve from this process")
    args = parser.parse_args(argv)

    model = f"bench?chunks={args.chunks}&tps=0"
    with contextlib.ExitStack() as stack:
        if args.in_process:
            base = stack.enter_context(serve(tokens_per_second=0)).url
        else:
            proc, base = start_server(tokens_per_second=0)
            stack.callback(proc.wait, 10)
            stack.callback(proc.terminate)
        url = base + "/egp/v1/chat-completions"
        client = nbchat.Client(base_url=base + "/egp/v1", api_key="bench")
        readers: dict[str, Callable[[], str]] = {
            "bare loop (requests.iter_lines + json)": lambda: bare_loop(url, model),
            "nbchat.Client.stream": lambda: nbchat_stream(client, model),
            "sseclient-py 1.9 over requests": lambda: sseclient_loop(url, model),
        }
        # warm-up: connections, imports, first-call costs
        for fn in readers.values():
            fn()
        times: dict[str, list[float]] = {name: [] for name in readers}
        texts: dict[str, str] = {}
        for _ in range(args.rounds):
            for name, fn in readers.items():
                elapsed, text = timed(fn)
                times[name].append(elapsed)
                texts[name] = text
        client.close()

    expected = "tok " * args.chunks
    same = len(set(texts.values())) == 1
    where = "in this process" if args.in_process else "in its own process"
    print(f"stream: {args.chunks} events from model {model!r} (EGP), {args.rounds} rounds")
    print(f"server: {where}")
    print(
        f"python {sys.version.split()[0]}, requests {requests.__version__}, "
        f"nbchat {nbchat.__version__}"
    )
    print()
    print(f"{'reader':<42} {'median s':>9} {'min s':>8} {'max s':>8} {'events/s':>10}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<42} {med:>9.3f} {min(ts):>8.3f} {max(ts):>8.3f} {args.chunks / med:>10,.0f}")
    print()
    names = list(readers)
    bare = statistics.median(times[names[0]])
    nb = statistics.median(times[names[1]])
    sse = statistics.median(times[names[2]])
    print(f"speed vs bare loop: {bare / nb:.2f}×  (bare_time / nbchat_time; > 1 = nbchat faster)")
    print(f"sseclient-py vs bare loop: {bare / sse:.2f}×")
    print(
        f"same text from all three: {same}; "
        f"text length {len(texts[names[0]])} (expected {len(expected)}): "
        f"{texts[names[0]] == expected}"
    )
    return 0 if same and texts[names[0]] == expected else 1


if __name__ == "__main__":
    sys.exit(main())
