"""Checks of a client's configuration, run when the client is built (never at send time).

Each check returns the normalised value or raises :class:`~nbchat.ConfigError` naming the
argument and what is allowed. No check ever puts a key or a header value into its message:
requests and http.client quote an invalid header value whole in their errors, so a key with a
trailing newline (``open("key.txt").read()``) used to reach error messages, the panel's state
and saved notebooks. Here the key is refused before any request is built.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from nbchat._exceptions import ConfigError
from nbchat.client.request import redact_url

__all__ = [
    "check_auth_header",
    "check_field",
    "check_headers",
    "check_key",
    "check_retries",
    "check_timeout",
    "check_url",
]

#: A header name is an RFC 9110 token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Characters a header value may not hold: controls other than tab, and DEL (RFC 9110 5.5).
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _value_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as a header value, in words that never quote it."""
    if _BAD_VALUE_CHAR.search(value):
        return "holds a line break or another control character"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "holds characters outside Latin-1, which HTTP headers cannot carry"
    return None


def check_key(key: object) -> str | None:
    """The API key with surrounding whitespace stripped, or None for no key.

    A key read from a file keeps its trailing newline; that is stripped. A key of another
    type, or one with a control character or a non-Latin-1 character inside, is refused.
    """
    if key is None:
        return None
    if not isinstance(key, str):
        raise ConfigError(f"api_key must be a string, not {type(key).__name__}")
    key = key.strip()
    if not key:
        return None
    problem = _value_problem(key)
    if problem is not None:
        raise ConfigError(f"api_key {problem} (the key is not shown)")
    return key


def check_headers(headers: object) -> dict[str, str]:
    """Extra request headers: a mapping of header names to string values."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise ConfigError(f"headers must be a dict of str to str, not {type(headers).__name__}")
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            shown = repr(name)[:60] if isinstance(name, str) else type(name).__name__
            raise ConfigError(f"headers: {shown} is not a valid header name")
        if not isinstance(value, str):
            raise ConfigError(f"headers[{name!r}] must be a string, not {type(value).__name__}")
        value = value.strip()
        problem = _value_problem(value)
        if problem is not None:
            raise ConfigError(f"headers[{name!r}] {problem} (the value is not shown)")
        out[name] = value
    return out


def check_auth_header(name: object) -> str | None:
    """A header name to send the key in, or None for the API's usual one."""
    if name is None:
        return None
    if not isinstance(name, str) or not _TOKEN.fullmatch(name.strip()):
        raise ConfigError("auth_header must be a header name such as 'x-api-key'")
    return name.strip()


def check_url(url: object, what: str = "base_url") -> str:
    """An http(s) URL with surrounding spaces and trailing slashes removed."""
    if not isinstance(url, str):
        raise ConfigError(
            f"{what} must be a string such as 'https://host/v1', not {type(url).__name__}"
        )
    url = url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        # Without "//" urlsplit finds no host: the text may be "user:key@host", never shown.
        shown = redact_url(url) if parts.netloc else "a URL without http:// or https://"
        raise ConfigError(f"{what} must be an http:// or https:// URL with a host, not {shown}")
    if not parts.hostname:
        raise ConfigError(f"{what} must be an http:// or https:// URL with a host; it has none")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ConfigError(f"{what} holds spaces or control characters: {redact_url(url)}")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ConfigError(f"{what} has an invalid port: {redact_url(url)}") from None
    return url


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} must be a number of seconds, not {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{what} must be a finite number of seconds > 0, not {value!r}")
    return value


def check_timeout(timeout: object) -> tuple[float, float]:
    """``(connect, read)`` seconds from a number or a pair of numbers, each finite and > 0."""
    if isinstance(timeout, (tuple, list)):
        if len(timeout) != 2:
            raise ConfigError(
                f"timeout must be seconds or a (connect, read) pair, not {len(timeout)} values"
            )
        return _seconds(timeout[0], "timeout (connect)"), _seconds(timeout[1], "timeout (read)")
    if timeout is None:
        raise ConfigError("timeout must be seconds or a (connect, read) pair, not None")
    seconds = _seconds(timeout, "timeout")
    return seconds, seconds


def check_deadline(deadline: object) -> float | None:
    """Seconds a whole request may take (``None``: no deadline), finite and > 0."""
    return None if deadline is None else _seconds(deadline, "deadline")


def check_retries(max_retries: object) -> int:
    """A whole number of retries >= 0."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int):
        raise ConfigError(f"max_retries must be a whole number >= 0, not {max_retries!r}")
    if max_retries < 0:
        raise ConfigError(f"max_retries must be >= 0, not {max_retries}")
    return max_retries


def check_field(value: Any, what: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{what} must be one of {list(allowed)}, not {value!r}")
    return str(value)
