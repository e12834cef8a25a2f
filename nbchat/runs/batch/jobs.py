"""The records of a batch run: a unique request (:class:`Job`), how it ended
(:class:`Result`), and the run's counters (:class:`RunStats`)."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from nbchat._exceptions import APIError
from nbchat.records import Reply

if TYPE_CHECKING:
    from nbchat.client import Request
    from nbchat.runs.batch.cache import Cached

__all__ = ["Job", "Result", "RunStats", "Status", "error_result"]

Status = Literal["complete", "incomplete", "error", "cancelled"]


@dataclass
class Job:
    """One unique request and the rows (positions) that share it."""

    key: str
    request: Request
    rows: list[int]
    prompt_estimate: int
    max_tokens: int | None
    #: Attempts started by the engine, and HTTP requests made (a client fallback adds one).
    attempts: int = 0
    requests: int = 0
    cost: int = 0


@dataclass
class Result:
    """How a request ended."""

    status: Status
    #: None when nothing was received (never sent, or failed before a response).
    content: str | None = ""
    error: str | None = None
    error_kind: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    ttft: float | None = None
    latency: float | None = None
    model: str | None = None
    cost: float | None = None  # USD (nbchat.data.prices); None when unknown
    #: HTTP requests made; None when unknown (results read from an OpenAI Batch file).
    attempts: int | None = 0
    cached: bool = False
    exception: BaseException | None = field(default=None, repr=False)

    @classmethod
    def from_reply(cls, reply: Reply, attempts: int, exc: BaseException | None = None) -> Result:
        usage = reply.usage
        status: Status = reply.status
        return cls(
            status=status,
            content=reply.content,
            error=reply.error,
            error_kind=type(exc).__name__ if exc is not None else None,
            finish_reason=reply.finish_reason,
            prompt_tokens=usage.prompt if usage else None,
            completion_tokens=usage.completion if usage else None,
            total_tokens=usage.total if usage else None,
            ttft=reply.ttft,
            latency=reply.latency,
            model=reply.model,
            cost=reply.cost,
            attempts=attempts,
            exception=exc,
        )

    @classmethod
    def from_cache(cls, c: Cached) -> Result:
        return cls(
            status="complete",
            content=c.content,
            finish_reason=c.finish_reason,
            prompt_tokens=c.prompt_tokens,
            completion_tokens=c.completion_tokens,
            total_tokens=c.total_tokens,
            ttft=c.ttft,
            latency=c.latency,
            model=c.model,
            attempts=0,
            cached=True,
        )


@dataclass
class RunStats:
    """Counters of a run, read by the progress display and ``batch_stats``."""

    rows: int = 0
    done: int = 0
    cached: int = 0
    skipped: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    completion_tokens: int = 0
    prompt_tokens: int = 0
    failed: int = 0
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    interrupted: bool = False
    #: When the run closed its streams in flight (an interrupt or a stop), monotonic time.
    stopped_at: float | None = None
    lowest_concurrency: int | None = None
    #: (monotonic time, tokens charged) of every attempt admitted: the rate-limit tests read it.
    admitted: list[tuple[float, int]] = field(default_factory=list)

    @property
    def elapsed(self) -> float:
        return (self.ended if self.ended is not None else time.monotonic()) - self.started


def error_result(exc: APIError, requests: int) -> Result:
    return Result(
        "error",
        None,
        error=exc.message,
        error_kind=type(exc).__name__,
        attempts=requests,
        exception=exc,
    )
