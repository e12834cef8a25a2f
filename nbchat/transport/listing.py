"""GET requests (a server's model listing), with the same rules as chat POSTs in
:mod:`nbchat.transport.http`: redirects refused, header errors never quoted, failures mapped."""

from __future__ import annotations

import requests

from nbchat._exceptions import APIConnectionError, ConfigError
from nbchat.transport.http import _cause, _refuse_redirect, _where

__all__ = ["get"]


def get(
    session: requests.Session,
    url: str,
    headers: dict[str, str],
    timeout: tuple[float, float],
) -> requests.Response:
    """GET ``url`` with ``stream=True``; the caller checks the status and reads the body."""
    try:
        resp = session.get(
            url, headers=headers, stream=True, timeout=timeout, allow_redirects=False
        )
    except (requests.exceptions.InvalidHeader, UnicodeEncodeError):
        raise ConfigError("a request header is not valid HTTP; values are not shown") from None
    except requests.exceptions.Timeout as exc:
        raise APIConnectionError(f"timed out connecting to {_where(url)} ({_cause(exc)})") from None
    except requests.exceptions.RequestException as exc:
        raise APIConnectionError(f"could not connect to {_where(url)}: {_cause(exc)}") from None
    _refuse_redirect(resp)
    return resp
