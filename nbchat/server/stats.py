"""Counting what the embedded server served (``Server.stats()``, ``GET /stats``)."""

from __future__ import annotations

import collections
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["messages_digest", "request_stats"]


def messages_digest(messages: Sequence[Any]) -> str:
    """A short hash of a conversation, to count how often the same request was served.

    Parameters
    ----------
    messages : sequence
        The ``messages`` of a request as sent (JSON values).

    Returns
    -------
    str
        16 hex digits of the SHA-256 of the canonical JSON of `messages`.
    """
    text = json.dumps(list(messages), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def request_stats(
    log: Sequence[dict[str, Any]], rate_limited: int = 0, refused: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Counts over a server's request log (``Server.requests``).

    Parameters
    ----------
    log : sequence of dict
        One entry per chat request that passed the `Guard`.
    rate_limited : int
        Requests refused by the server's ``rpm`` limit (not in `log`).
    refused : mapping, optional
        Requests the `guard.Guard` refused, by status (not in `log`).

    Returns
    -------
    dict
        ``requests`` (total), ``by_model`` (count per model string, options included),
        ``faults`` (count per injected fault), ``rate_limited``, ``refused`` (count per
        status of the requests refused before reaching a route), and ``repeated``: the
        ``digest`` of every conversation answered without a fault more than once, with its
        count (empty when no request was served twice).
    """
    entries = list(log)
    by_model = collections.Counter(str(e.get("model")) for e in entries)
    by_fault = collections.Counter(str(e["fault"]) for e in entries if e.get("fault"))
    served = collections.Counter(e.get("digest") for e in entries if not e.get("fault"))
    repeated = {str(d): n for d, n in served.items() if d is not None and n > 1}
    return {
        "requests": len(entries),
        "by_model": dict(by_model),
        "faults": dict(by_fault),
        "rate_limited": rate_limited,
        "refused": dict(refused or {}),
        "repeated": repeated,
    }
