"""Time nbchat.history() for 100,000 panel messages (median of 5 rounds); target 0.5 s.

Run: ``python benchmarks/bench_frames.py``
"""

from __future__ import annotations

import statistics
import time

from nbchat.data.frames import history, usage
from nbchat.records import Message, Reply, Usage, new_id, now_iso

TARGET_S = 0.5
N = 100_000
ROUNDS = 5


def messages(n: int = N) -> list[dict[str, object]]:
    params = {"temperature": 0.7, "max_tokens": 256, "stop": None, "system": "Be brief."}
    out: list[dict[str, object]] = []
    for i in range(n // 2):
        out.append(Message.user(f"question {i}", model="demo", api="egp", params=params).to_dict())
        reply = Reply(
            f"answer {i}",
            usage=Usage(12 + 40 * i, 30, 42 + 40 * i) if i % 10 else None,
            finish_reason="stop",
            ttft=0.05,
            latency=0.8,
            api="egp",
        )
        out.append(
            Message.from_reply(
                reply,
                message_id=new_id(),
                request_id=new_id(),
                created_at=now_iso(),
                model="demo",
                params=params,
            ).to_dict()
        )
    return out


def bench(fn: object, msgs: list[dict[str, object]]) -> float:
    f = fn  # type: ignore[assignment]
    f(msgs[:10])  # type: ignore[operator]  # warm up pandas' lazy imports
    times = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        f(msgs)  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    msgs = messages()
    h = bench(history, msgs)
    print(
        f"history(): {N:,} messages in {h:.3f} s (median of {ROUNDS}); "
        f"{h / TARGET_S:.2f} x the {TARGET_S} s target"
    )
    u = bench(usage, msgs)
    print(
        f"usage():   {N:,} messages in {u:.3f} s (median of {ROUNDS}); "
        f"{u / TARGET_S:.2f} x the {TARGET_S} s target"
    )


if __name__ == "__main__":
    main()
