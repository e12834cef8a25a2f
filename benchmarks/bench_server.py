"""How many concurrent 50 tok/s streams the embedded server holds.

::

    python benchmarks/bench_server.py [--levels 10,25,50,100,200] [--tokens 200] [--tps 50]

Runs the embedded server in its own process (``python -m nbchat.server --port 0``), so its
CPU time can be measured apart from the clients. For each level N, N threads start at once
(a barrier), each POSTs ``bench?chunks=200&tps=50`` to the EGP endpoint with requests and
reads the stream. Per stream, the achieved rate is ``(events - 1) / (last - first)`` over the
arrival times of the token events (time to first token is reported separately). The table
shows the median and 10th percentile rate, the median time to first token, failures, and the
server process CPU over the level (seconds, and % of one core). The answer is the largest N
whose p10 rate is still >= 45 tok/s (90 % of the requested 50). The whole run is bounded
(< 3 minutes): a level that cannot finish in time counts its unfinished streams as failed.

The clients share one Python process, so at the largest levels client-side overhead may also
limit the measured rates; the server CPU column shows whether the server is the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

import psutil
import requests

MESSAGES = [{"role": "user", "content": "benchmark"}]
TOTAL_BUDGET_S = 170.0


def start_server(tokens_per_second: float = 50) -> tuple[subprocess.Popen[str], str]:
    """The embedded server in a process of its own; returns the process and its base URL."""
    tps = str(tokens_per_second)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbchat.server", "--port", "0", "--tokens-per-second", tps],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "running at" not in line:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    url = line.rsplit(" ", 1)[-1].strip()
    return proc, url


def one_stream(
    url: str, model: str, barrier: threading.Barrier, out: list, deadline: float
) -> None:
    try:
        barrier.wait(timeout=30)
    except threading.BrokenBarrierError:
        out.append(None)
        return
    t0 = time.monotonic()
    arrivals: list[float] = []
    payload = {"model": model, "messages": MESSAGES, "stream": True}
    try:
        timeout = max(1.0, deadline - time.monotonic())
        with requests.post(url, json=payload, stream=True, timeout=(10, timeout)) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith(b"data: "):
                    json.loads(line[6:])
                    arrivals.append(time.monotonic())
                if time.monotonic() > deadline:
                    raise TimeoutError("level deadline")
    except Exception:
        out.append(None)
        return
    if len(arrivals) < 2:
        out.append(None)
        return
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    out.append((rate, arrivals[0] - t0, len(arrivals)))


def p10(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[0]


def run_level(url: str, n: int, tokens: int, tps: float, budget: float) -> dict:
    model = f"bench?chunks={tokens}&tps={tps:g}"
    barrier = threading.Barrier(n)
    out: list = []
    deadline = time.monotonic() + budget
    threads = [
        threading.Thread(target=one_stream, args=(url, model, barrier, out, deadline), daemon=True)
        for _ in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, deadline + 5 - time.monotonic()))
    ok = [r for r in out if r is not None]
    failed = n - len(ok)
    rates = [r[0] for r in ok]
    ttfts = [r[1] for r in ok]
    return {
        "n": n,
        "ok": len(ok),
        "failed": failed,
        "median": statistics.median(rates) if rates else 0.0,
        "p10": p10(rates) if rates else 0.0,
        "ttft": statistics.median(ttfts) if ttfts else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="10,25,50,100,200")
    parser.add_argument("--tokens", type=int, default=200, help="events per stream")
    parser.add_argument("--tps", type=float, default=50.0, help="requested tokens/s per stream")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    nominal = args.tokens / args.tps

    start = time.monotonic()
    proc, base = start_server()
    url = base + "/egp/v1/chat-completions"
    server = psutil.Process(proc.pid)
    threshold = 0.9 * args.tps
    print(
        f"server: {base} (pid {proc.pid}, own process); each stream {args.tokens} events "
        f"at {args.tps:g} tok/s (~{nominal:.1f} s); pass = p10 >= {threshold:g} tok/s"
    )
    print()
    print(
        f"{'streams':>7} {'ok':>5} {'failed':>6} {'median tok/s':>13} {'p10 tok/s':>10} "
        f"{'ttft s':>7} {'wall s':>7} {'server CPU s':>13} {'CPU %':>6}"
    )
    best = 0
    try:
        for n in levels:
            remaining = TOTAL_BUDGET_S - (time.monotonic() - start)
            if remaining < nominal + 5:
                print(f"{n:>7} skipped: time budget used")
                break
            budget = min(remaining - 2, max(3 * nominal, nominal + 20))
            cpu0 = sum(server.cpu_times()[:2])
            w0 = time.monotonic()
            res = run_level(url, n, args.tokens, args.tps, budget)
            wall = time.monotonic() - w0
            cpu = sum(server.cpu_times()[:2]) - cpu0
            good = res["failed"] == 0 and res["p10"] >= threshold
            if good:
                best = n
            print(
                f"{n:>7} {res['ok']:>5} {res['failed']:>6} {res['median']:>13.1f} "
                f"{res['p10']:>10.1f} {res['ttft']:>7.3f} {wall:>7.1f} {cpu:>13.2f} "
                f"{100 * cpu / wall:>5.0f}%  {'ok' if good else 'BELOW'}"
            )
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    print()
    print(f"largest N with p10 >= {threshold:g} tok/s: {best or 'none'}")
    print(f"total time {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
