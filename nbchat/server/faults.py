"""Per-request options and fault modes of the embedded server.

Options ride in the model name after ``?`` and are parsed like a URL query
string, e.g. ``demo?fault=drop&after=3``, ``echo?tps=5000`` or
``bench?chunks=20000&tps=0``. The model name reported back (OpenAI ``model``
field) is the part before ``?``. The header ``x-nbchat-fault: MODE`` also selects
a fault (the model option wins when both are given).

Models (the base name before ``?``)
-----------------------------------
``echo``
    The reply is the last user message verbatim, split into token pieces.
``bench``
    ``chunks`` events (default 100) each carrying ``"tok "``, for benchmarks.
anything else
    The deterministic teaching demo model (see `nbchat.server.demo_model`).

Options
-------
===============  =======================================================================
option           meaning
===============  =======================================================================
``tps=X``        tokens per second for this request (``0`` = no delay)
``ttft=S``       wait S seconds before the first event (time to first token)
``chunks=N``     number of events of the ``bench`` model
``fault=MODE``   inject a fault (table below)
``after=N``      stream faults trigger after N token events (default 3)
``times=N``      only the first N requests with this exact model string fail
``retry_after``  the ``Retry-After`` seconds of fault ``429`` (default 1)
``stall=S``      seconds of silence for ``stall`` and ``stall-mid`` (default 30)
``split=N``      cut the reply text into pieces of exactly N characters (the last may be
                 shorter), one event each, instead of the tokenizer's pieces; usage
                 ``completion`` counts these pieces. N is a positive integer. For tests
                 that need chunk boundaries inside a tag, an attribute or a code fence.
``rate=P``       the fault applies to a fraction P (0 to 1) of the requests, e.g.
                 ``demo?fault=429&rate=0.1`` fails about one request in ten
``seed=N``       makes ``rate`` deterministic: request k of a model string fails when a
                 hash of (N, model string, k) falls below P, so a test sees the same
                 failures on every run (without it, ``rate`` draws at random)
===============  =======================================================================

Every option has a cap (`LIMITS`), so a request cannot make the server allocate or wait
without bound; a value over its cap is a validation error on ``model`` naming the limit.

Fault modes
-----------
================  ======================================================================
mode              behaviour
================  ======================================================================
``401``           401, invalid API key (each API's error body)
``403``           403, permission denied
``404``           404, unknown model (OpenAI code ``model_not_found``)
``422``           422, validation error naming the ``messages`` field
``429``           429 with ``Retry-After: retry_after``
``500``           500 with a JSON error body
``502``           502 with an HTML page (``text/html``), as a proxy sends it
``malformed``     after ``after`` tokens a ``data:`` event with invalid JSON, then more
                  valid events (sync: a truncated JSON body)
``drop``          after ``after`` tokens half of the next event, then the connection is
                  aborted without the terminating zero-length chunk (sync: half the body)
``stall``         send nothing for ``stall`` seconds before the status line, then serve
``stall-mid``     after ``after`` tokens, pause ``stall`` seconds, then continue
``empty``         200 with zero body bytes (``text/event-stream`` when streaming)
``error-event``   after ``after`` tokens ``data: {"error": {...}}``; OpenAI then sends
                  ``data: [DONE]``
``event-error``   after ``after`` tokens ``event: error`` + ``data: {"detail": ...}``
``error-field``   after ``after`` tokens a llama.cpp-style ``error: {...}`` line, then
                  ``data: [DONE]``
``json``          a stream request gets a complete sync JSON body
================  ======================================================================

Stream-only faults (``error-event``, ``event-error``, ``error-field``, ``json``)
do not change sync replies.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.responses import HTMLResponse, Response

from nbchat.server.wire import JSONBody, dumps

__all__ = [
    "FAULT_MODES",
    "LIMITS",
    "STATUS_FAULTS",
    "STREAM_ONLY_FAULTS",
    "FaultCounter",
    "OptionError",
    "RequestOptions",
    "error_event",
    "fault_response",
    "parse_options",
]

STATUS_FAULTS = frozenset({"401", "403", "404", "422", "429", "500", "502"})
STREAM_ONLY_FAULTS = frozenset({"error-event", "event-error", "error-field", "json"})
FAULT_MODES = (
    STATUS_FAULTS | STREAM_ONLY_FAULTS | {"malformed", "drop", "stall", "stall-mid", "empty"}
)

OVERLOADED = "The server is overloaded, try again later"
CONTEXT_ERROR = {
    "code": 500,
    "message": "the request exceeds the available context size",
    "type": "exceed_context_size_error",
}
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class OptionError(ValueError):
    """An invalid option in the model name (reported as a validation error on ``model``)."""


@dataclass(frozen=True)
class RequestOptions:
    """Options parsed from a model string.

    Attributes
    ----------
    model : str
        The base model name (before ``?``).
    fault : str or None
        The requested fault mode.
    after, times, retry_after, stall, tps, ttft, chunks, split
        See the module docstring.
    """

    model: str
    fault: str | None = None
    after: int = 3
    times: int | None = None
    retry_after: int = 1
    stall: float = 30.0
    tps: float | None = None
    ttft: float = 0.0
    chunks: int | None = None
    split: int | None = None
    rate: float | None = None
    seed: int | None = None


_INT_OPTIONS = ("after", "times", "retry_after", "chunks", "split", "seed")
_FLOAT_OPTIONS = ("stall", "tps", "ttft", "rate")
LIMITS: dict[str, float] = {
    "after": 100_000,
    "times": 1_000_000,
    "retry_after": 3600,
    "chunks": 100_000,
    "split": 1024 * 1024,
    "seed": 2**32 - 1,
    "stall": 300.0,
    "tps": 1_000_000.0,
    "ttft": 60.0,
    "rate": 1.0,
}
"""The largest value of each numeric option (``chunks=100000`` streams about 12 MB)."""


def parse_options(model: str, header_fault: str | None = None) -> RequestOptions:
    """Parse ``base?key=value&...`` into `RequestOptions`.

    Parameters
    ----------
    model : str
        The model string from the request.
    header_fault : str, optional
        The value of the ``x-nbchat-fault`` header.

    Returns
    -------
    RequestOptions
        The parsed options.

    Raises
    ------
    OptionError
        For an unknown option, a non-numeric or negative value, a value over its limit
        (`LIMITS`), ``split=0``, or an unknown fault.
    """
    base, _, query = model.partition("?")
    values: dict[str, int | float | str | None] = {}
    for key, raw in parse_qsl(query, keep_blank_values=True):
        if key == "fault":
            values[key] = raw
        elif key in _INT_OPTIONS:
            values[key] = _number(key, raw, int)
        elif key in _FLOAT_OPTIONS:
            values[key] = _number(key, raw, float)
        else:
            raise OptionError(f"unknown option {key!r} in model name")
    if "split" in values and values["split"] == 0:
        raise OptionError("option 'split' must be a positive integer")
    fault = values.pop("fault", None) or header_fault or None
    if fault is not None and fault not in FAULT_MODES:
        raise OptionError(f"unknown fault {fault!r}; expected one of {sorted(FAULT_MODES)}")
    return RequestOptions(model=base, fault=str(fault) if fault else None, **values)  # type: ignore[arg-type]


def _number(key: str, raw: str, kind: type[int] | type[float]) -> int | float:
    try:
        value = kind(raw)
    except ValueError:
        raise OptionError(f"option {key!r} must be a number, got {raw!r}") from None
    if value < 0 or value != value or value == float("inf"):
        raise OptionError(f"option {key!r} must be a finite number >= 0")
    limit = LIMITS[key]
    if value > limit:
        raise OptionError(f"option {key!r} is {raw}, over its limit of {limit:g}")
    return value


class FaultCounter:
    """Count requests per model string so ``times=N`` faults stop after N requests."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def active(
        self,
        key: str,
        times: int | None,
        rate: float | None = None,
        seed: int | None = None,
    ) -> bool:
        """Record one request for `key`; return whether its fault applies.

        Parameters
        ----------
        key : str
            The exact model string (plus the header fault).
        times : int or None
            Only the first `times` requests may fail; ``None`` means all of them.
        rate : float or None
            The fraction of requests that fail; ``None`` means all of them.
        seed : int or None
            With a seed, request *k* of `key` fails when ``_unit(seed, key, k) < rate``
            (the same requests fail on every run); without one, at random.

        Returns
        -------
        bool
            Whether this request gets the fault.
        """
        with self._lock:
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        if times is not None and count > times:
            return False
        if rate is None:
            return True
        draw = random.random() if seed is None else _unit(seed, key, count)
        return draw < rate


def _unit(seed: int, key: str, count: int) -> float:
    """A number in [0, 1) fixed by (seed, key, count)."""
    digest = hashlib.sha256(f"{seed}\n{key}\n{count}".encode(errors="replace")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def fault_response(api: str, options: RequestOptions) -> Response:
    """Build the response of a status fault (``401`` ... ``502``).

    Parameters
    ----------
    api : {"egp", "openai"}
        Which wire format the error body uses.
    options : RequestOptions
        The request options; ``options.fault`` must be in `STATUS_FAULTS`.

    Returns
    -------
    starlette.responses.Response
        The error response.
    """
    fault = options.fault or "500"
    if fault == "502":
        return HTMLResponse(BAD_GATEWAY_HTML, status_code=502)
    headers = {"Retry-After": str(options.retry_after)} if fault == "429" else None
    body = _ERRORS[fault](api, options.model)
    return JSONBody(body, status_code=int(fault), headers=headers)


def openai_error(message: str, kind: str, code: str | None, param: str | None = None) -> object:
    """Return an OpenAI error body ``{"error": {message, type, param, code}}``."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _e401(api: str, model: str) -> object:
    message = "Incorrect API key provided."
    if api == "egp":
        return {"detail": message}
    return openai_error(message, "invalid_request_error", "invalid_api_key")


def _e403(api: str, model: str) -> object:
    message = f"You do not have permission to use the model `{model}`."
    if api == "egp":
        return {"detail": message}
    return openai_error(message, "permission_error", "permission_denied")


def _e404(api: str, model: str) -> object:
    if api == "egp":
        return {"detail": f"Model `{model}` not found."}
    message = f"The model `{model}` does not exist or you do not have access to it."
    return openai_error(message, "invalid_request_error", "model_not_found", "model")


def _e422(api: str, model: str) -> object:
    message = "field required"
    if api == "egp":
        return {"detail": [{"loc": ["body", "messages"], "msg": message, "type": "value_error"}]}
    return openai_error(f"'messages': {message}", "invalid_request_error", None, "messages")


def _e429(api: str, model: str) -> object:
    message = "Rate limit reached. Please try again later."
    if api == "egp":
        return {"detail": message}
    return openai_error(message, "requests", "rate_limit_exceeded")


def _e500(api: str, model: str) -> object:
    message = "The server had an error while processing your request."
    if api == "egp":
        return {"detail": message}
    return openai_error(message, "server_error", None)


_ERRORS = {"401": _e401, "403": _e403, "404": _e404, "422": _e422, "429": _e429, "500": _e500}


def error_event(api: str, fault: str) -> bytes:
    """Return the bytes of a mid-stream error fault.

    Parameters
    ----------
    api : {"egp", "openai"}
        The wire format (OpenAI streams end with ``data: [DONE]``).
    fault : {"error-event", "event-error", "error-field"}
        Which error shape to send.

    Returns
    -------
    bytes
        One or more complete SSE events.
    """
    done = b"data: [DONE]\n\n"
    if fault == "event-error":
        return b"event: error\ndata: " + dumps({"detail": OVERLOADED}) + b"\n\n"
    if fault == "error-field":
        return b"error: " + dumps(CONTEXT_ERROR) + b"\n\n" + done
    payload = {"error": {"message": OVERLOADED, "type": "server_error"}}
    event = b"data: " + dumps(payload) + b"\n\n"
    return event + done if api == "openai" else event
