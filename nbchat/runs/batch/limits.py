"""Rate limits and adaptive concurrency for a batch run.

* :class:`RateLimit`: at most ``limit`` units (requests, or estimated tokens) in any
  ``window`` seconds. A sliding log of what was admitted makes the bound exact over every
  window (not only on average), with ``SEND_MARGIN_S`` to spare for the time a request
  takes to leave; a token bucket holding a sixth of the window's budget paces
  the starts, so a run does not spend the whole minute's budget in its first second.
* :class:`Concurrency`: how many requests may be in flight, with additive increase (one
  slot per successful reply) and multiplicative decrease (to three quarters on a 429, at
  most once per cool-down: the server's ``Retry-After``, one second or a round trip).
* :class:`Limits`: both, shared by every engine of a process (a Dask worker's partitions
  share one), thread-safe.
* :func:`estimate_tokens`: what a request is charged against ``tpm`` before its usage is
  known.

No I/O and no clock of its own: callers pass ``now`` (``time.monotonic()``), which keeps
the arithmetic testable.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "BURST_FRACTION",
    "DEFAULT_COMPLETION_ESTIMATE",
    "SEND_MARGIN_S",
    "WINDOW_S",
    "Concurrency",
    "Limits",
    "RateLimit",
    "estimate_prompt_tokens",
    "estimate_tokens",
]

#: The window rate limits are stated over ("per minute").
WINDOW_S = 60.0
#: The token bucket holds this fraction of a window's budget: 10 s worth of a minute.
BURST_FRACTION = 1 / 6
#: An admitted request stays in the window this much longer than the window itself: the time
#: between admission and the request reaching the server (a thread to wake, a connection to
#: open) varies by some milliseconds, and the server counts arrivals, not admissions.
SEND_MARGIN_S = 0.25
#: Completion tokens charged for a request without ``max_tokens`` before any reply has
#: reported its usage (then the mean of the reported completions is used).
DEFAULT_COMPLETION_ESTIMATE = 256
#: Concurrency is cut to this fraction on a 429. Gentler than TCP's half: a batch meets
#: scattered 429s (a shared quota, a busy replica) that a halving per round trip would turn
#: into a crawl, and the rpm/tpm limits, not AIMD, are what keeps a run under a known quota.
DECREASE = 0.75
#: The least time between two cuts.
MIN_COOL_DOWN_S = 1.0


def estimate_prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """About four characters per token, plus each message's framing (4) and the reply's (3).

    The usual rule of thumb for English text with OpenAI's tokenizers; no tokenizer is
    loaded. A learned ratio (:meth:`Limits.record_usage`) corrects it during a run.
    """
    total = 3
    for m in messages:
        content = m.get("content")
        text = content if isinstance(content, str) else ""
        total += 4 + math.ceil(len(text) / 4)
    return total


def estimate_tokens(prompt_estimate: int, max_tokens: int | None, completion_mean: float) -> int:
    """Prompt estimate plus ``max_tokens`` (the most the reply may use) or the mean so far."""
    completion = max_tokens if max_tokens is not None else completion_mean
    return int(prompt_estimate + math.ceil(completion))


class RateLimit:
    """At most ``limit`` units admitted in any ``window`` seconds, paced by a token bucket.

    A single cost larger than ``limit`` (one huge prompt against a small ``tpm``) is
    admitted only when the window is empty; otherwise it could never be sent.
    """

    def __init__(self, limit: float, window: float = WINDOW_S) -> None:
        if not limit > 0:
            raise ValueError(f"a rate limit must be positive, not {limit!r}")
        self.limit = float(limit)
        self.window = float(window)
        self._span = self.window + SEND_MARGIN_S
        self._log: collections.deque[tuple[float, float]] = collections.deque()
        self._sum = 0.0
        self._capacity = max(1.0, self.limit * BURST_FRACTION)
        self._rate = self.limit / self.window
        self._tokens = self._capacity
        self._filled_at: float | None = None

    def _expire(self, now: float) -> None:
        edge = now - self._span
        log = self._log
        while log and log[0][0] <= edge:
            self._sum -= log.popleft()[1]
        if not log:
            self._sum = 0.0  # no float drift across a long run

    def _refill(self, now: float) -> None:
        if self._filled_at is not None:
            self._tokens = min(self._capacity, self._tokens + (now - self._filled_at) * self._rate)
        self._filled_at = now

    def wait(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` may be admitted (0: now)."""
        self._expire(now)
        self._refill(now)
        need = min(cost, self._capacity)
        bucket = 0.0 if self._tokens >= need else (need - self._tokens) / self._rate
        if not self._log or self._sum + cost <= self.limit:
            window = 0.0
        else:
            # The earliest time enough of the log has left the window.
            excess = self._sum + cost - self.limit
            window = 0.0
            for t, c in self._log:
                excess -= c
                window = t + self._span - now
                if excess <= 0:
                    break
            window = max(window, 0.0) + 1e-6  # strictly after the entry has left
        return max(bucket, window)

    def take(self, cost: float, now: float) -> None:
        """Admit ``cost`` now (call after :meth:`wait` returned 0)."""
        self._expire(now)
        self._refill(now)
        self._tokens -= cost
        self._log.append((now, cost))
        self._sum += cost

    def used(self, now: float) -> float:
        """Units admitted in the window ending now."""
        self._expire(now)
        return self._sum


class Concurrency:
    """In-flight requests allowed: AIMD between 1 and ``maximum``.

    A 429 cuts the limit to ``DECREASE`` of itself, at most once per cool-down: the longest of
    the server's ``Retry-After``, ``MIN_COOL_DOWN_S`` and the recent reply latency (the 429s
    of one burst arrive within one round trip, and count as one signal). For the server's
    ``Retry-After`` the limit does not grow; after it every successful reply adds one slot.
    """

    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            raise ValueError(f"concurrency must be >= 1, not {maximum!r}")
        self.maximum = maximum
        self.limit = float(maximum)
        self.lowest = maximum
        self._hold_until = -math.inf
        self._pause_until = -math.inf
        self._latency: float | None = None
        #: How many times a 429 cut the limit.
        self.decreases = 0

    @property
    def allowed(self) -> int:
        return max(1, int(self.limit))

    def on_success(self, now: float, latency: float | None = None) -> None:
        if latency is not None:  # a moving average of the round trip
            self._latency = (
                latency if self._latency is None else 0.8 * self._latency + 0.2 * latency
            )
        if now >= self._pause_until:
            self.limit = min(float(self.maximum), self.limit + 1.0)

    def on_rate_limited(self, retry_after: float | None, now: float) -> None:
        if now < self._hold_until:
            return  # one cut per cool-down: the 429s of one burst are one signal
        self.limit = max(1.0, math.floor(self.limit * DECREASE))
        self.lowest = min(self.lowest, self.allowed)
        self.decreases += 1
        pause = max(0.0, retry_after or 0.0)
        self._pause_until = now + pause
        self._hold_until = now + max(MIN_COOL_DOWN_S, pause, self._latency or 0.0)


class Limits:
    """The limits of one run (or of one Dask worker's share of it), thread-safe.

    ``acquire`` is asked before each attempt; it says how long to wait, or admits the
    attempt (counting it in flight and against ``rpm``/``tpm``). ``release`` ends it.
    """

    def __init__(
        self,
        concurrency: int,
        rpm: float | None = None,
        tpm: float | None = None,
        *,
        window: float = WINDOW_S,
    ) -> None:
        self.concurrency = Concurrency(concurrency)
        self.rpm = None if rpm is None else RateLimit(rpm, window)
        self.tpm = None if tpm is None else RateLimit(tpm, window)
        self.in_flight = 0
        self._lock = threading.Lock()
        self._completions = 0
        self._completion_sum = 0
        self._prompt_ratio_sum = 0.0
        self._prompt_samples = 0

    def estimate(self, prompt_estimate: int, max_tokens: int | None) -> int:
        """The tokens a request is charged, with the prompt and completion estimates
        corrected by what the server has reported so far."""
        with self._lock:
            ratio = self._prompt_ratio_sum / self._prompt_samples if self._prompt_samples else 1.0
            mean = (
                self._completion_sum / self._completions
                if self._completions
                else DEFAULT_COMPLETION_ESTIMATE
            )
        return estimate_tokens(math.ceil(prompt_estimate * ratio), max_tokens, mean)

    def acquire(self, cost: float, now: float) -> float:
        """0 when the attempt is admitted (now in flight), else seconds to wait.

        ``inf`` means: wait for a request in flight to finish.
        """
        with self._lock:
            if self.in_flight >= self.concurrency.allowed:
                return math.inf
            wait = 0.0
            if self.rpm is not None:
                wait = self.rpm.wait(1, now)
            if self.tpm is not None:
                wait = max(wait, self.tpm.wait(cost, now))
            if wait > 0:
                return wait
            if self.rpm is not None:
                self.rpm.take(1, now)
            if self.tpm is not None:
                self.tpm.take(cost, now)
            self.in_flight += 1
            return 0.0

    def release(
        self,
        now: float,
        *,
        ok: bool,
        rate_limited: bool = False,
        retry_after: float | None = None,
        latency: float | None = None,
    ) -> None:
        """An attempt ended: a success widens the limit, a 429 narrows it."""
        with self._lock:
            self.in_flight -= 1
            if rate_limited:
                self.concurrency.on_rate_limited(retry_after, now)
            elif ok:
                self.concurrency.on_success(now, latency)

    def record_usage(
        self, prompt_estimate: int, prompt_tokens: int | None, completion_tokens: int | None
    ) -> None:
        """Learn from a reply's usage: the prompt estimate's error and the completion mean."""
        with self._lock:
            if completion_tokens is not None:
                self._completions += 1
                self._completion_sum += completion_tokens
            if prompt_tokens is not None and prompt_estimate > 0:
                self._prompt_samples += 1
                self._prompt_ratio_sum += prompt_tokens / prompt_estimate
