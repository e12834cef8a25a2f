"""The rate limits (exact over every window), the pacing, AIMD and the token estimate."""

from __future__ import annotations

import math
import random

from nbchat.runs.batch.limits import (
    SEND_MARGIN_S,
    Concurrency,
    Limits,
    RateLimit,
    estimate_prompt_tokens,
    estimate_tokens,
)


def _max_in_window(events: list[tuple[float, float]], window: float) -> float:
    """The largest sum of costs in any half-open window (t - window, t]."""
    best = 0.0
    for i, (t, _) in enumerate(events):
        s = sum(c for u, c in events[: i + 1] if u > t - window)
        best = max(best, s)
    return best


def _drive(limit: RateLimit, costs: list[float], step: float = 0.01) -> list[tuple[float, float]]:
    now, admitted = 0.0, []
    for cost in costs:
        while (wait := limit.wait(cost, now)) > 0:
            now += max(wait, step)
        limit.take(cost, now)
        admitted.append((now, cost))
    return admitted


def test_requests_never_exceed_the_limit_in_any_window() -> None:
    events = _drive(RateLimit(30, window=60), [1] * 200)
    assert _max_in_window(events, 60) <= 30
    # and the whole run takes as long as the limit says, not less
    assert events[-1][0] >= (200 // 30) * 60 * 0.95


def test_tokens_with_uneven_costs_never_exceed_the_limit() -> None:
    rng = random.Random(1)
    costs = [rng.randint(10, 400) for _ in range(300)]
    events = _drive(RateLimit(5000, window=60), costs)
    assert _max_in_window(events, 60) <= 5000


def test_starts_are_paced_not_one_burst() -> None:
    events = _drive(RateLimit(600, window=60), [1] * 300)
    first_second = sum(1 for t, _ in events if t < 1.0)
    assert first_second <= 600 / 6 + 10  # the bucket holds 10 s worth, then 10/s
    assert _max_in_window(events, 60) <= 600


def test_a_cost_larger_than_the_limit_waits_for_an_empty_window() -> None:
    limit = RateLimit(100, window=10)
    limit.take(10, 0.0)
    assert limit.wait(500, 1.0) > 0
    assert limit.wait(500, 10.01 + SEND_MARGIN_S) == 0


def test_aimd_cuts_once_per_cool_down_and_recovers_by_one_per_success() -> None:
    c = Concurrency(64)
    c.on_success(now=0.0, latency=2.0)  # round trips of 2 s
    c.on_rate_limited(1.0, now=1.0)
    assert c.allowed == 48
    c.on_rate_limited(1.0, now=2.5)  # within a round trip: the same burst, no second cut
    assert c.allowed == 48
    c.on_success(now=1.5)  # within the server's Retry-After: no growth
    assert c.allowed == 48
    for _ in range(5):
        c.on_success(now=2.1)  # after it, one slot per success
    assert c.allowed == 53
    c.on_rate_limited(None, now=3.1)  # a new cool-down: cut again
    assert c.allowed == 39 and c.lowest == 39 and c.decreases == 2
    for _ in range(40):
        c.on_success(now=10.0)
    assert c.allowed == 64
    for t in range(30):
        c.on_rate_limited(None, now=20.0 + 3 * t)
    assert c.allowed == 1  # never below one


def test_limits_gate_concurrency_and_learn_from_usage() -> None:
    limits = Limits(2)
    assert limits.acquire(10, 0.0) == 0 and limits.acquire(10, 0.0) == 0
    assert math.isinf(limits.acquire(10, 0.0))
    limits.release(0.1, ok=True)
    assert limits.acquire(10, 0.1) == 0
    assert limits.estimate(100, None) == 100 + 256  # nothing learned yet
    limits.record_usage(100, 50, 20)
    assert limits.estimate(100, None) == 50 + 20
    assert limits.estimate(100, 7) == 50 + 7


def test_estimates() -> None:
    msgs = [{"role": "system", "content": "x" * 8}, {"role": "user", "content": "y" * 9}]
    assert estimate_prompt_tokens(msgs) == 3 + (4 + 2) + (4 + 3)
    assert estimate_tokens(20, 100, 5.0) == 120
    assert estimate_tokens(20, None, 5.2) == 26
