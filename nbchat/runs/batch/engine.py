"""The batch engine: every unique request of a run, sent concurrently within the limits.

One coordinator (the caller's thread) owns all state: it admits attempts through
:class:`~nbchat.runs.batch.limits.Limits` (concurrency, ``rpm``, ``tpm``), hands each to a
pool of ``concurrency`` threads that stream it with :meth:`nbchat.Client.open`, and takes
each outcome off a queue: it records the reply, commits it to the cache at once, schedules
a retry, or ends the row. Workers only stream; they share nothing but the queue.

Retries are the engine's, not the client's: each request is sent with the client's own
retries off (``max_retries=0``), so every attempt passes the rate limits (a server counts
retries too), a 429 narrows the concurrency (AIMD) and honours ``Retry-After``, and a
waiting retry holds no thread. What is retried follows the client's policy
(:func:`nbchat.client.retry.delay`, PROTOCOL.md 6): 429, 408, 409, 5xx and connection errors,
only before any output, ``Retry-After`` up to 60 s, else exponential backoff with jitter;
a stream cut after its first token is ``incomplete``, not retried (it has been billed).

Interrupts: in the main thread a SIGINT (the notebook's stop button, Ctrl+C) sets a flag the
coordinator checks every ``TICK_S``; then every open stream is closed (``Stream.close()``,
from this thread), finished replies are kept and cached, and the rest end ``cancelled``. A
second SIGINT raises KeyboardInterrupt at once. Off the main thread a KeyboardInterrupt is
handled the same way.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbchat._exceptions import APIError, RateLimitError, StreamError
from nbchat.client import retry
from nbchat.records import Reply
from nbchat.runs.batch.jobs import Job, Result, RunStats, error_result

if TYPE_CHECKING:
    from nbchat.client import Client, Stream
    from nbchat.runs.batch.cache import Cache
    from nbchat.runs.batch.limits import Limits

__all__ = ["CANCEL_GRACE_S", "Job", "Result", "RunStats", "run_jobs"]

log = logging.getLogger("nbchat")

#: The coordinator wakes at least this often (interrupt flag, progress).
TICK_S = 0.1
#: After an interrupt, how long closed streams get to report before their rows are cancelled.
CANCEL_GRACE_S = 1.0


@dataclass
class _Outcome:
    job: Job
    reply: Reply | None
    exc: BaseException | None
    requests: int


class _Interrupted(Exception):
    pass


def run_jobs(
    client: Client,
    jobs: list[Job],
    limits: Limits,
    *,
    max_retries: int,
    stats: RunStats,
    cache: Cache | None = None,
    on_result: Callable[[Job, Result], BaseException | None] | None = None,
    tick: Callable[[RunStats], None] | None = None,
    results: dict[str, Result] | None = None,
) -> dict[str, Result]:
    """Send every job; return how each ended, by key (in ``results`` when given, which
    then holds the finished ones even when the run raises).

    ``on_result`` sees every finished job; an exception it returns stops the run (the
    ``on_error="raise"`` path): in-flight requests are closed and the exception is raised
    after the finished replies are cached. ``tick`` is called on every wake-up (progress).
    """
    run = _Run(client, jobs, limits, max_retries, stats, cache, on_result, tick)
    if results is not None:
        run.results = results
    return run.run()


class _Run:
    def __init__(
        self,
        client: Client,
        jobs: list[Job],
        limits: Limits,
        max_retries: int,
        stats: RunStats,
        cache: Cache | None,
        on_result: Callable[[Job, Result], BaseException | None] | None,
        tick: Callable[[RunStats], None] | None,
    ) -> None:
        self.client = client
        self.jobs = jobs
        self.limits = limits
        self.max_retries = max_retries
        self.stats = stats
        self.cache = cache
        self.on_result = on_result
        self.tick = tick or (lambda s: None)
        self.results: dict[str, Result] = {}
        self.done_q: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
        self.streams: dict[str, Stream] = {}
        self.streams_lock = threading.Lock()
        self.cancel = threading.Event()
        self.in_flight = 0
        self.stop_error: BaseException | None = None
        self.cancel_reason = "interrupted before it finished"

    # -- workers -----------------------------------------------------------------------

    def _attempt(self, job: Job) -> None:
        """Stream one attempt on a pool thread; the outcome goes to the queue, always."""
        stream = None
        reply: Reply | None = None
        exc: BaseException | None = None
        try:
            stream = self.client.open(job.request)
            with self.streams_lock:
                self.streams[job.key] = stream
            if self.cancel.is_set():
                stream.close()
            with stream:
                for _ in stream:
                    pass
            reply = stream.reply
        except StreamError as e:  # began, then failed: incomplete or error, never retried
            exc = e
            reply = e.reply or (stream.reply if stream is not None else None)
        except BaseException as e:  # APIError (maybe retried) or a bug: reported, not lost
            exc = e
            reply = None
        finally:
            with self.streams_lock:
                self.streams.pop(job.key, None)
            made = stream.requests_made if stream is not None else 0
            self.done_q.put(_Outcome(job, reply, exc, made))

    def _close_all(self) -> None:
        self.stats.stopped_at = time.monotonic()
        self.cancel.set()
        with self.streams_lock:
            streams = list(self.streams.values())
        for s in streams:
            s.close()

    # -- the coordinator ---------------------------------------------------------------

    def run(self) -> dict[str, Result]:
        stats = self.stats
        heap: list[tuple[float, int, Job]] = []
        seq = itertools.count()
        for job in self.jobs:
            heapq.heappush(heap, (0.0, next(seq), job))
        pool = ThreadPoolExecutor(
            max_workers=self.limits.concurrency.maximum, thread_name_prefix="nbchat-batch"
        )
        flag = threading.Event()
        try:
            with _sigint_sets(flag):
                try:
                    self._loop(heap, seq, pool, flag)
                except KeyboardInterrupt:  # off the main thread, or between checks
                    flag.set()
                if flag.is_set() or self.stop_error is not None:
                    stats.interrupted = flag.is_set()
                    if not flag.is_set():
                        self.cancel_reason = (
                            "not sent: the run stopped at an error (on_error='raise')"
                        )

                    self._wind_down(heap)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            stats.ended = time.monotonic()
            stats.lowest_concurrency = self.limits.concurrency.lowest
        if self.stop_error is not None:
            raise self.stop_error
        return self.results

    def _loop(
        self,
        heap: list[tuple[float, int, Job]],
        seq: Iterator[int],
        pool: ThreadPoolExecutor,
        flag: threading.Event,
    ) -> None:
        limits = self.limits
        while (heap or self.in_flight) and not flag.is_set() and self.stop_error is None:
            now = time.monotonic()
            wake = now + TICK_S
            while heap and heap[0][0] <= now:
                job = heap[0][2]
                job.cost = limits.estimate(job.prompt_estimate, job.max_tokens)
                wait = limits.acquire(job.cost, now)
                if wait > 0:
                    if not math.isinf(wait):
                        wake = min(wake, now + wait)
                    break
                heapq.heappop(heap)
                job.attempts += 1
                self.in_flight += 1
                self.stats.admitted.append((now, job.cost))
                pool.submit(self._attempt, job)
            if heap and heap[0][0] > now:
                wake = min(wake, heap[0][0])
            try:
                outcome = self.done_q.get(timeout=max(0.0005, wake - time.monotonic()))
            except queue.Empty:
                self.tick(self.stats)
                continue
            self._handle(outcome, heap, seq)
            while True:  # everything else that has landed meanwhile
                try:
                    outcome = self.done_q.get_nowait()
                except queue.Empty:
                    break
                self._handle(outcome, heap, seq)
            self.tick(self.stats)

    def _handle(
        self, outcome: _Outcome, heap: list[tuple[float, int, Job]], seq: Iterator[int]
    ) -> None:
        job, reply, exc = outcome.job, outcome.reply, outcome.exc
        now = time.monotonic()
        self.in_flight -= 1
        job.requests += outcome.requests
        self.stats.requests += outcome.requests
        if isinstance(exc, APIError) and not isinstance(exc, StreamError):
            limited = isinstance(exc, RateLimitError)
            retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
            self.limits.release(now, ok=False, rate_limited=limited, retry_after=retry_after)
            if limited:
                self.stats.rate_limited += 1
            wait = retry.delay(exc, None, job.attempts - 1, self.max_retries)
            if wait is not None and self.cancel.is_set():  # would have been retried
                cancelled = Result(
                    "cancelled", None, error=self.cancel_reason, attempts=job.requests
                )
                self._finish(job, cancelled)
                return
            if wait is not None:
                self.stats.retries += 1
                heapq.heappush(heap, (now + wait, next(seq), job))
                return
            self._finish(job, error_result(exc, job.requests))
            return
        if reply is None:  # a bug in a worker (not an API error): recorded, never lost
            self.limits.release(now, ok=False)
            assert exc is not None
            log.error("nbchat batch worker failed", exc_info=exc)
            result = Result(
                "error",
                None,
                error=f"internal error: {type(exc).__name__}: {exc}",
                error_kind=type(exc).__name__,
                attempts=job.requests,
                exception=exc,
            )
            self._finish(job, result)
            return
        self.limits.release(now, ok=reply.status == "complete", latency=reply.latency)
        result = Result.from_reply(reply, job.requests, exc)
        if result.status == "cancelled" and not result.error:
            result.error = self.cancel_reason
        if reply.status == "complete":
            self.limits.record_usage(
                job.prompt_estimate, result.prompt_tokens, result.completion_tokens
            )
            if self.cache is not None:
                self._store(job, result)
        self._finish(job, result)

    def _store(self, job: Job, result: Result) -> None:
        from nbchat.runs.batch.cache import Cached

        assert self.cache is not None
        entry = Cached(
            request_hash=job.key,
            api=job.request.api,
            model=result.model,
            content=result.content or "",
            finish_reason=result.finish_reason,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            total_tokens=result.total_tokens,
            ttft=result.ttft,
            latency=result.latency,
            attempts=result.attempts,
        )
        self.cache.put(entry, job.request.payload)

    def _finish(self, job: Job, result: Result) -> None:
        self.results[job.key] = result
        n = len(job.rows)
        stats = self.stats
        stats.done += n
        stats.statuses[result.status] += n
        if result.status != "complete":
            stats.failed += n
            stats.errors[result.error_kind or result.status] += n
        if result.completion_tokens:
            stats.completion_tokens += result.completion_tokens
        if result.prompt_tokens:
            stats.prompt_tokens += result.prompt_tokens
        if self.on_result is not None and self.stop_error is None and result.status != "cancelled":
            stop = self.on_result(job, result)
            if stop is not None:
                self.stop_error = stop

    def _wind_down(self, heap: list[tuple[float, int, Job]]) -> None:
        """Close what is in flight, keep what finishes within the grace, cancel the rest."""
        self._close_all()
        deadline = time.monotonic() + CANCEL_GRACE_S
        while self.in_flight:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                outcome = self.done_q.get(timeout=left)
            except queue.Empty:
                break
            self._handle(outcome, [], itertools.count())
        for job in [j for j in self.jobs if j.key not in self.results]:
            self._finish(
                job,
                Result("cancelled", None, attempts=job.requests, error=self.cancel_reason),
            )
        self.tick(self.stats)


@contextlib.contextmanager
def _sigint_sets(flag: threading.Event) -> Iterator[None]:
    """In the main thread, the first SIGINT sets ``flag``; a second one raises as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not in the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
