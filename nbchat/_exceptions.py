"""The exceptions nbchat raises.

::

    NbchatError
    ├── ConfigError                 bad arguments (unknown api, missing key for a live host)
    ├── BudgetExceeded              refused before sending: the worst case exceeds the budget
    └── APIError                    .status (int | None), .message (str)
        ├── AuthenticationError     401 / 403
        ├── NotFoundError           404 (unknown model or path)
        ├── BadRequestError         400 / 413 / 422, with the server's field errors
        ├── RateLimitError          429, .retry_after (seconds | None)
        ├── ReplayMismatchError     409 from a replay server: not the recorded request
        ├── ReplayExhaustedError    410 from a replay server: every exchange was replayed
        ├── ServerError             5xx (and 408 / 409), JSON or not (an HTML 502 page)
        ├── APIConnectionError      refused, DNS, timeouts before the response began
        └── StreamError             malformed chunk, error event, dropped stream, empty 200;
                                    .partial is the text received so far, .reply the Reply

Messages carry the HTTP status and the server's own text, never the API key.

Warnings: ``NbchatWarning`` (a ``UserWarning``) > ``UnpricedModelWarning`` (once per model with
no known price: its cost is unknown, NaN, never $0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbchat.records import Reply

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceeded",
    "ConfigError",
    "NbchatError",
    "NbchatWarning",
    "NotFoundError",
    "RateLimitError",
    "ReplayExhaustedError",
    "ReplayMismatchError",
    "ServerError",
    "StreamError",
    "UnpricedModelWarning",
]


class NbchatError(Exception):
    """Base class of every error nbchat raises on purpose."""


class ConfigError(NbchatError, ValueError):
    """The client or panel was configured in a way that cannot work."""


class BudgetExceeded(NbchatError):
    """A request was refused before it was sent: its worst case would exceed the budget.

    ``worst_case`` (USD, None when no price is known), ``remaining``, ``spent`` and ``budget``
    say the numbers; the message says them in words.
    """

    def __init__(
        self,
        message: str,
        *,
        worst_case: float | None = None,
        remaining: float = 0.0,
        spent: float = 0.0,
        budget: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.worst_case = worst_case
        self.remaining = remaining
        self.spent = spent
        self.budget = budget


class NbchatWarning(UserWarning):
    """Base class of the warnings nbchat gives."""


class UnpricedModelWarning(NbchatWarning):
    """No price is known for a model: its cost is unknown (NaN), never $0. Once per model."""


class APIError(NbchatError):
    """A request to a chat-completions server failed.

    Attributes
    ----------
    status:
        The HTTP status code, or None when there was no HTTP response.
    message:
        What went wrong, in words a person understands, with the server's own message.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.status))


class AuthenticationError(APIError):
    """401 or 403: the key is missing, wrong or lacks permission."""


class NotFoundError(APIError):
    """404: unknown model or endpoint."""


class BadRequestError(APIError):
    """400, 413 or 422: the server rejected the request; the message names the fields."""


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` is the server's requested delay in seconds."""

    def __init__(
        self, message: str, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class ReplayMismatchError(APIError):
    """409 from ``nbchat serve --replay``: the request differs from the recorded one (the
    message says how). Deterministic: never retried."""


class ReplayExhaustedError(APIError):
    """410 from ``nbchat serve --replay``: every recorded exchange was already replayed.
    Deterministic: never retried."""


class ServerError(APIError):
    """5xx (also 408 and 409): the server failed; the body may be an HTML page."""


class APIConnectionError(APIError):
    """No usable HTTP response: connection refused, DNS failure or a timeout."""


class StreamError(APIError):
    """The response began but the stream went wrong.

    ``partial`` is the text received before the failure; ``reply`` is the Reply with
    status ``"incomplete"`` (the stream was cut) or ``"error"`` (an error event,
    a malformed chunk, an empty response).
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        partial: str = "",
        reply: Reply | None = None,
    ) -> None:
        super().__init__(message, status)
        self.partial = partial
        self.reply = reply
