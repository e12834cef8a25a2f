"""nbchat.batch against the embedded server in its own process: wall time, kernel CPU per row.

    .venv/bin/python benchmarks/bench_batch.py [--rows 1000] [--concurrency 64] [--fast-rows 10000]

Starts ``python -m nbchat serve --port 0 --tokens-per-second 0`` and uses the model
``bench?chunks=100&tps=50`` (100 tokens at 50 tok/s: 2 s a reply). Scenarios, in one run:

1. ``nbchat.batch``: ``--rows`` rows at ``--concurrency``: wall time against the ideal
   (rows / concurrency x 2 s), CPU seconds of this process per row.
2. The pattern users write by hand: ``openai.AsyncOpenAI`` + ``asyncio.Semaphore(concurrency)``,
   streaming (the demo server paces only streams), same rows.
3. A plain loop (``Client.stream`` one row after another) on ``--loop-rows`` rows,
   extrapolated to ``--rows`` (said so in the output).
4. Faults: 10 % of attempts answered 429 (``Retry-After: 1``) and 2 % answered 500, both by
   the server (a seeded fault rate in the model option; a benchmark-side wrapper sends 2 % of
   attempts with ``fault=500``), with ``rpm`` below the natural rate: rows missing (must be
   0), retries, 429s, the largest count in any 60 s window of sends against ``rpm``.
5. ``--fast-rows`` rows at ``tps=0``: rows/s and CPU per row (the engine's own overhead),
   streaming; and 2,000 rows streaming vs not (``stream=False``), the engine's choice.

CPU is ``time.process_time()`` of this process (every thread: the coordinator, the workers,
the POST helpers); the server's CPU is not in it. Machines differ and the host may be
shared: compare the rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nbchat
from nbchat.runs.batch.results import ATTRS_KEY
from nbchat.runs.batch.run import run_batch
from nbchat.transport import http

MODEL = "bench?chunks=100&tps=50"


@contextmanager
def server_process() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbchat", "serve", "--port", "0", "--tokens-per-second", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            raise RuntimeError(f"the server did not start: {line!r}")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(10)


def measure(fn: Any) -> tuple[Any, float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0, time.process_time() - c0


def texts(n: int, tag: str) -> list[str]:
    return [f"{tag} row {i}: summarise this." for i in range(n)]


def report(name: str, rows: int, wall: float, cpu: float, extra: str = "") -> dict[str, Any]:
    print(
        f"{name:<34} {rows:>6} rows  wall {wall:7.2f} s  {rows / wall:8.1f} rows/s  "
        f"CPU {cpu:6.2f} s = {1000 * cpu / rows:6.2f} ms/row  {extra}",
        flush=True,
    )
    return {"name": name, "rows": rows, "wall": wall, "cpu": cpu, "extra": extra}


def nbchat_run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    client = nbchat.Client(base_url=url + "/egp/v1", timeout=(10, 60))
    rows = args.rows
    out, wall, cpu = measure(
        lambda: nbchat.batch(texts(rows, "a"), "{text}", model=MODEL, client=client,
                             concurrency=args.concurrency, progress=False)
    )  # fmt: skip
    ideal = rows / args.concurrency * 2.0
    ok = int((out["status"] == "complete").sum())
    client.close()
    return report(
        "nbchat.batch (streams)", rows, wall, cpu,
        f"ideal {ideal:.1f} s, ratio {wall / ideal:.3f}, complete {ok}/{rows}",
    )  # fmt: skip


def async_openai_run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    import openai

    rows = args.rows

    async def main() -> int:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=2)
        sem = asyncio.Semaphore(args.concurrency)

        async def one(text: str) -> str:
            async with sem:
                stream = await client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": text}], stream=True
                )
                parts = []
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        parts.append(chunk.choices[0].delta.content)
                return "".join(parts)

        done = await asyncio.gather(*(one(t) for t in texts(rows, "b")))
        await client.close()
        return sum(1 for d in done if d)

    ok, wall, cpu = measure(lambda: asyncio.run(main()))
    ideal = rows / args.concurrency * 2.0
    return report(
        "AsyncOpenAI + Semaphore", rows, wall, cpu,
        f"ideal {ideal:.1f} s, ratio {wall / ideal:.3f}, complete {ok}/{rows}",
    )  # fmt: skip


def plain_loop(url: str, args: argparse.Namespace) -> dict[str, Any]:
    client = nbchat.Client(base_url=url + "/egp/v1")
    n = args.loop_rows

    def run() -> int:
        ok = 0
        for text in texts(n, "c"):
            with client.stream([{"role": "user", "content": text}], MODEL) as s:
                for _ in s:
                    pass
            ok += s.reply is not None and s.reply.status == "complete"
        return ok

    _, wall, cpu = measure(run)
    client.close()
    scale = args.rows / n
    return report(
        f"plain loop ({n} rows, x{scale:g})", args.rows, wall * scale, cpu * scale,
        f"measured on {n} rows: {wall:.1f} s, extrapolated",
    )  # fmt: skip


class FaultyClient(nbchat.Client):
    """Sends 2 % of attempts with the model option fault=500 (seeded), the rest as planned."""

    rng = random.Random(7)

    def open(self, request: Any) -> Any:
        if self.rng.random() < 0.02:
            payload = dict(request.payload)
            payload["model"] = "bench?chunks=100&tps=50&fault=500"
            request = request.with_payload(payload)
        return super().open(request)


def fault_run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    rows = args.rows
    rpm = args.fault_rpm
    sends: list[float] = []
    post = http.post

    def timed(*a: Any, **k: Any) -> Any:
        sends.append(time.monotonic())
        return post(*a, **k)

    http.post = timed  # type: ignore[assignment]
    client = FaultyClient(base_url=url + "/egp/v1", timeout=(10, 60))
    model = "bench?chunks=100&tps=50&fault=429&rate=0.1&seed=1"
    try:
        out, wall, cpu = measure(
            lambda: nbchat.batch(texts(rows, "d"), "{text}", model=model, client=client,
                                 concurrency=args.concurrency, rpm=rpm, progress=False)
        )  # fmt: skip
    finally:
        http.post = post  # type: ignore[assignment]
        client.close()
    stats = nbchat.batch_stats(out)
    missing = rows - int((out["status"] == "complete").sum())
    worst = max(sum(1 for u in sends[: i + 1] if u > t - 60.0) for i, t in enumerate(sends))
    meta = out.attrs[ATTRS_KEY]
    extra = (
        f"missing {missing}, requests {stats.requests}, retries {stats.retries} "
        f"({stats.rate_limited} x 429, {stats.requests - rows - stats.rate_limited} x 500), "
        f"max sends in a 60 s window {worst} (rpm {rpm}), lowest concurrency "
        f"{meta['lowest_concurrency']}"
    )
    return report("nbchat.batch, 10% 429 + 2% 500", rows, wall, cpu, extra)


def fast_run(url: str, rows: int, stream: bool, name: str, concurrency: int) -> dict[str, Any]:
    client = nbchat.Client(base_url=url + "/egp/v1")
    out, wall, cpu = measure(
        lambda: run_batch(texts(rows, f"e{stream}"), "{text}", "bench?chunks=100&tps=0",
                          client=client, concurrency=concurrency, progress=False, stream=stream)
    )  # fmt: skip
    client.close()
    ok = int((out["status"] == "complete").sum())
    return report(name, rows, wall, cpu, f"complete {ok}/{rows}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--loop-rows", type=int, default=5)
    parser.add_argument("--fault-rpm", type=int, default=900)
    parser.add_argument("--fast-rows", type=int, default=10_000)
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument(
        "--only", default="batch,async,loop,faults,fast", help="scenarios to run (comma list)"
    )
    args = parser.parse_args()
    results = []
    with server_process() as url:
        print(f"server {url} (own process); model {MODEL}; concurrency {args.concurrency}")
        only = set(args.only.split(","))
        if "batch" in only:
            results.append(nbchat_run(url, args))
        if "async" in only:
            results.append(async_openai_run(url, args))
        if "loop" in only:
            results.append(plain_loop(url, args))
        if "faults" in only:
            results.append(fault_run(url, args))
        if "fast" in only:
            c = args.concurrency
            results.append(fast_run(url, args.fast_rows, True, "nbchat.batch tps=0 (streams)", c))
            results.append(fast_run(url, 2000, True, "tps=0, 2,000 rows, stream", c))
            results.append(fast_run(url, 2000, False, "tps=0, 2,000 rows, no stream", c))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
