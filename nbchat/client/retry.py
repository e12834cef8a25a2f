"""The retry policy (PROTOCOL.md 6): what is retried, and after how long.

Retried, at most ``max_retries`` times and only before any output: 429, 408, 409, 5xx and
connection errors. ``x-should-retry`` from the server overrides the status. ``Retry-After`` /
``retry-after-ms`` is honoured up to ``RETRY_AFTER_CAP_S`` (a longer wait fails at once);
otherwise exponential backoff with jitter.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from nbchat._exceptions import (
    APIConnectionError,
    APIError,
    RateLimitError,
    ReplayExhaustedError,
    ReplayMismatchError,
    ServerError,
)
from nbchat.transport import http

__all__ = ["BACKOFF_BASE_S", "BACKOFF_CAP_S", "RETRYABLE_STATUS", "RETRY_AFTER_CAP_S", "delay"]

#: Retry-After is honoured only up to this many seconds (PROTOCOL.md 6).
RETRY_AFTER_CAP_S = 60.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


def delay(
    err: APIError, headers: Mapping[str, str] | None, attempt: int, max_retries: int
) -> float | None:
    """Seconds to wait before retry number ``attempt + 1``, or None for no retry."""
    if attempt >= max_retries or isinstance(err, (ReplayMismatchError, ReplayExhaustedError)):
        return None  # a replay server's mismatch or end of cassette is deterministic
    forced = False
    if headers is not None:
        should = str(headers.get("x-should-retry", "")).lower()
        if should == "false":
            return None
        forced = should == "true"
    if not forced and not (
        isinstance(err, APIConnectionError)
        or (err.status is not None and err.status in RETRYABLE_STATUS)
    ):
        return None
    wanted: float | None = err.retry_after if isinstance(err, RateLimitError) else None
    if wanted is None and headers is not None and isinstance(err, ServerError):
        wanted = http.retry_after(headers)
    if wanted is not None and wanted > RETRY_AFTER_CAP_S:
        return None  # the server wants a longer pause than we wait: show the error now
    if wanted is not None and wanted > 0:
        return wanted
    backoff: float = min(BACKOFF_BASE_S * 2.0**attempt, BACKOFF_CAP_S)
    return float(backoff * (1 - 0.25 * random.random()))
