"""``Client.models()``: the model names a server lists (``GET {base_url}/models``).

The key is sent as for a chat request (``Request.send_headers()``), redirects are refused, and
failures are the same typed errors (PROTOCOL.md 6). A server without a listing (404 or 405) is
a :class:`~nbchat.NotFoundError` that says so: the caller decides whether no listing is fine
(the panel then keeps its model field free text, see ``nbchat.runs.defaults.resolve_model``).
Connection errors, 429 and 5xx are retried like a chat request (``nbchat.client.retry``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from nbchat._exceptions import APIConnectionError, APIError, NotFoundError
from nbchat.backends.errors import body_kind, body_message, html_message
from nbchat.backends.models import parse_models
from nbchat.client import retry
from nbchat.client.request import Request, Secret, redact_url
from nbchat.transport import http, listing

if TYPE_CHECKING:
    import requests

    from nbchat.backends import Backend

__all__ = ["list_models"]


def list_models(
    session: requests.Session,
    backend: Backend,
    url: str,
    headers: Mapping[str, str],
    auth: tuple[str, str],
    key: Secret,
    timeout: tuple[float, float],
    max_retries: int,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """The names listed at ``url``; typed APIErrors otherwise."""
    request = Request(
        backend=backend,
        url=url,
        model="",
        payload={},
        stream=False,
        headers={"accept": "application/json", **headers},
        auth_header=auth[0],
        auth_prefix=auth[1],
        key=key,
        timeout=timeout,
        max_retries=max_retries,
    )
    where = redact_url(url)
    attempt = 0
    while True:
        try:
            resp = listing.get(session, url, request.send_headers(), timeout)
            if resp.ok:
                break
            err = http.error_from_response(resp, body_message, body_kind)
            headers_in: Mapping[str, str] | None = resp.headers
        except APIConnectionError as exc:
            err, headers_in = exc, None
        if err.status in (404, 405):
            raise NotFoundError(
                f"{err.status} at {where}: this server lists no models; give the model name "
                "yourself (model=...)",
                err.status,
            ) from None
        wait = retry.delay(err, headers_in, attempt, max_retries)
        if wait is None:
            raise err
        attempt += 1
        sleep(wait)
    try:
        body = http.read_limited(resp, 4 * 1024 * 1024)
    except http.BodyInterrupted as exc:
        raise APIError(f"the model list from {where} broke off ({exc})", resp.status_code) from None
    finally:
        http.shutdown(resp)
    ctype = resp.headers.get("content-type", "").lower()
    if ctype.startswith("text/html") or body.lstrip()[:1] == b"<":
        raise APIError(html_message(where, body), resp.status_code)
    try:
        return parse_models(json.loads(body.decode("utf-8", errors="replace")))
    except (ValueError, RecursionError) as exc:
        raise APIError(
            f"malformed model list from {where}: {exc}: {body[:200]!r}", resp.status_code
        ) from None
