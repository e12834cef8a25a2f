"""The conversation store: restore a 1,000-message conversation into a panel (target < 1 s),
``nbchat.logs()`` over 100,000 stored turns (200,000 messages; target < 1 s), write one turn
(target < 5 ms). Medians.

Run: ``python benchmarks/bench_store.py [--turns 100000] [--rounds 5]``. The store is a file in
a temporary folder (``NBCHAT_STORE``), never the user's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from nbchat.records import Message, Reply, Usage, new_id, now_iso

RESTORE_TARGET_S = 1.0
LOGS_TARGET_S = 1.0
WRITE_TARGET_S = 0.005
PARAMS = {"temperature": 0.7, "max_tokens": 256, "system": "Be brief."}


def turn(i: int, parent: str | None, model: str = "demo") -> list[dict[str, Any]]:
    """A user message and its reply (realistic sizes: a sentence and a paragraph)."""
    user = Message.user(
        f"Question {i}: how does the prompt grow as a chat goes on?",
        model=model,
        api="egp",
        params=PARAMS,
    ).to_dict()
    user["parent_id"] = parent
    reply = Reply(
        f"Answer {i}: " + "every turn re-sends the whole history, so the prompt grows. " * 6,
        usage=Usage(40 + 12 * i, 90, 130 + 12 * i),
        finish_reason="stop",
        ttft=0.05,
        latency=0.8,
        api="egp",
        model=model,
    )
    answer = Message.from_reply(
        reply,
        message_id=new_id(),
        request_id=new_id(),
        created_at=now_iso(),
        model=model,
        params=PARAMS,
    ).to_dict()
    answer["parent_id"] = user["id"]
    return [user, answer]


def median_of(fn: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nbchat-bench-store-"))
    os.environ["NBCHAT_STORE"] = str(folder / "store.db")

    import nbchat
    from nbchat.data.store import get_store

    store = get_store()

    # -- writing a turn (what a panel does when a reply finishes) --------------------------
    cid = new_id()
    parent: str | None = None
    writes = []
    for i in range(300):
        msgs = turn(i, parent)
        t = time.perf_counter()
        store.write(cid, msgs, source="bench")
        writes.append(time.perf_counter() - t)
        parent = msgs[-1]["id"]
    write_s = statistics.median(writes[20:])  # after the file and the page cache warm up
    p95 = sorted(writes[20:])[int(0.95 * len(writes[20:]))]
    print(
        f"write a turn: {write_s * 1000:.2f} ms median, {p95 * 1000:.2f} ms p95 "
        f"(target {WRITE_TARGET_S * 1000:.0f} ms): {'ok' if write_s < WRITE_TARGET_S else 'SLOW'}"
    )

    # -- restoring a 1,000-message conversation into a panel --------------------------------
    name = "bench-restore"
    rid = store.named(name)
    parent = None
    batch: list[dict[str, Any]] = []
    for i in range(500):
        msgs = turn(i, parent)
        batch += msgs
        parent = msgs[-1]["id"]
    store.write(rid, batch, name=name, source="bench")
    client = nbchat.Client(base_url="http://127.0.0.1:9/egp/v1")  # never called
    panels = []

    def restore() -> None:
        panel = nbchat.ChatPanel(client=client, model="demo", name=name)
        assert len(panel.messages) == 1000
        panels.append(panel)

    restore()  # warm up (imports, the widget classes)
    restore_s = median_of(restore, args.rounds)
    for p in panels:
        p.close()
    print(
        f"restore 1,000 messages into a panel: {restore_s:.3f} s "
        f"(target {RESTORE_TARGET_S:.0f} s): {'ok' if restore_s < RESTORE_TARGET_S else 'SLOW'}"
    )

    # -- logs() over N stored turns ------------------------------------------------------
    have = store.query("SELECT count(*) FROM messages WHERE role = 'user'")[0][0]
    todo = max(0, args.turns - have)
    t = time.perf_counter()
    per_conversation = 100
    for start in range(0, todo, per_conversation):
        conv = new_id()
        parent = None
        rows: list[dict[str, Any]] = []
        for i in range(start, min(todo, start + per_conversation)):
            msgs = turn(i, parent, model="demo" if i % 3 else "gpt-4o-mini")
            rows += msgs
            parent = msgs[-1]["id"]
        store.write(conv, rows, source="bench")
    fill_s = time.perf_counter() - t
    size_mb = sum(p.stat().st_size for p in folder.glob("store.db*")) / 1e6
    print(f"(filled {todo:,} turns in {fill_s:.1f} s; store {size_mb:.0f} MB)")
    from nbchat.data import logs as logs_mod

    nbchat.logs(since="1 hour")  # warm up pandas (a filtered first look: SQLite filters)

    def cold() -> None:
        logs_mod._snapshots.clear()  # as in a new kernel: every row is read
        nbchat.logs()

    cold_s = median_of(cold, args.rounds)
    cpu = []
    for _ in range(args.rounds):
        c = time.process_time()
        cold()
        cpu.append(time.process_time() - c)
    cold_cpu = statistics.median(cpu)
    n = len(nbchat.logs())
    warm_s = median_of(nbchat.logs, args.rounds)

    def one_more() -> None:
        store.write(new_id(), turn(0, None), source="bench")
        nbchat.logs()

    more_s = median_of(one_more, args.rounds)
    filtered_s = median_of(lambda: nbchat.logs(since="7 days", model="gpt-4o-mini"), args.rounds)
    usage_s = median_of(lambda: nbchat.usage(nbchat.logs(model="gpt-4o-mini")), args.rounds)
    logs_mod._snapshots.clear()
    sql_s = median_of(lambda: nbchat.logs(since="7 days", model="gpt-4o-mini"), args.rounds)
    ok = "ok" if warm_s < LOGS_TARGET_S else "SLOW"
    print(
        f"logs() over {args.turns:,} turns ({n:,} messages):\n"
        f"  first call in a process (every row read): {cold_s:.3f} s ({cold_cpu:.3f} s of CPU)\n"
        f"  again, nothing new: {warm_s:.3f} s (target {LOGS_TARGET_S:.0f} s: {ok})\n"
        f"  after one more turn is written (only it is read): {more_s:.3f} s\n"
        f"  logs(since='7 days', model=...): {filtered_s:.3f} s; "
        f"usage(logs(model=...)): {usage_s:.3f} s\n"
        f"  logs(since='7 days', model=...) as a first call (SQLite filters): {sql_s:.3f} s"
    )
    calib = median_of(lambda: sum(i * i for i in range(3_000_000)), 3)
    print(f"(machine check: 3M squares in pure Python took {calib:.3f} s; load {os.getloadavg()})")


if __name__ == "__main__":
    main()
