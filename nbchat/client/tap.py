"""What one stream saw on the wire, and what its reply cost.

A :class:`Tap` rides along a :class:`~nbchat.client.Stream`: it notes each attempt (request
headers with every credential as ``***``, the body as sent, the status and response headers) and
each event with its arrival time (``nbchat.raw.EventLog``: the first 200 and the last 50), holds
the request's budget reservation, and when the stream ends adds to the accumulator's reply its
``cost`` (``nbchat.data.prices``, at the time the request was sent), ``request_bytes`` and
``raw``. It never sees the key: it reads ``Request.headers`` (non-secret) and masks the auth
header by name.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from nbchat.data import prices
from nbchat.raw import Attempt, EventLog, Raw, redact_headers
from nbchat.records import Reply

if TYPE_CHECKING:
    import requests

    from nbchat.client.request import Request

__all__ = ["Tap"]

log = logging.getLogger("nbchat")


def _body_size(payload: Any) -> int:
    # As requests sends ``json=``: json.dumps defaults (ASCII), NaN refused upstream.
    return len(json.dumps(payload).encode("utf-8"))


class Tap:
    """The wire record and the price of one stream's reply."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.sent_at = _dt.datetime.now(_dt.UTC)
        self.attempts: list[Attempt] = []
        self.events = EventLog()
        self.request_bytes: int | None = None
        self.reserved = 0.0

    def start(self, request: Request) -> None:
        """The request is about to be sent: the clock starts, the budget reserves its worst case
        (BudgetExceeded if it cannot)."""
        self.t0 = time.monotonic()
        self.sent_at = _dt.datetime.now(_dt.UTC)
        r = request
        if r.budget is not None:
            self.reserved = r.budget.reserve(
                r.payload, r.model, r.url, r.price_provider, r.max_tokens
            )

    def attempt(
        self,
        request: Request,
        sent: float,
        resp: requests.Response | None = None,
        error: str | None = None,
    ) -> None:
        """One POST: with its response, or the error that stopped it."""
        shown = request.to_dict()
        headers = redact_headers(shown["headers"], request.auth_header)
        body = resp.request.body if resp is not None and resp.request is not None else None
        self.request_bytes = len(body) if isinstance(body, bytes) else _body_size(request.payload)
        self.attempts.append(
            Attempt(
                method=shown["method"],
                url=shown["url"],
                headers=headers,
                body=shown["body"],
                status=resp.status_code if resp is not None else None,
                response_headers=redact_headers(resp.headers) if resp is not None else None,
                sent=round(sent - self.t0, 6),
                error=error,
            )
        )

    def event(self, event: str, data: str) -> None:
        self.events.add(time.monotonic() - self.t0, event, data)

    def release(self, request: Request, received: bool) -> None:
        """The stream ended without a reply: settle the budget's hold (the worst case when the
        server sent something, else nothing)."""
        if request.budget is not None and self.reserved:
            request.budget.settle(self.reserved, None if received else 0.0)
            self.reserved = 0.0

    def finish(self, reply: Reply, request: Request, received: bool) -> Reply:
        """The reply with its cost, request size and raw record; the budget charged.

        ``received``: the server sent something (a failure before any output costs nothing).
        """
        cost: prices.Cost | None = None
        try:
            cost = prices.cost(
                reply.usage, request.model, request.url, provider=request.price_provider,
                at=self.sent_at,
            )  # fmt: skip
        except Exception:  # pricing never loses a reply (a warnings filter of "error" included)
            log.exception("nbchat could not price the reply")
        if request.budget is not None:
            charged = cost.usd if cost is not None else (None if received else 0.0)
            request.budget.settle(self.reserved, charged)
            self.reserved = 0.0
        auth = (
            (request.auth_header, request.auth_prefix)
            if request.key and request.auth_header
            else None
        )
        raw = Raw(
            attempts=tuple(self.attempts),
            events=self.events.events(),
            event_count=self.events.count,
            bytes=self.events.bytes,
            key_env=request.backend.api_key_env,
            auth=auth,
        )
        return dataclasses.replace(
            reply,
            cost=cost.usd if cost is not None else None,
            price_source=cost.source if cost is not None else None,
            request_bytes=self.request_bytes,
            raw=raw,
        )
