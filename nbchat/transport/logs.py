"""Keep credentials of a base URL out of the HTTP library's log lines.

A base URL may carry a key in its query (``.../egp/v1?key=S``); urllib3 logs every request's
path with its query at DEBUG level (``"POST /egp/v1/chat-completions?key=S HTTP/1.1" 200``).
:func:`install` adds a filter to urllib3's connection-pool logger that cuts the query from
those records. User info never reaches urllib3's logs: requests turns it into a header.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["install"]

_lock = threading.Lock()
_installed = False


class _DropQuery(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) and "?" in a for a in args):
            record.args = tuple(
                a.split("?", 1)[0] + "?…" if isinstance(a, str) and "?" in a else a for a in args
            )
        elif isinstance(record.msg, str) and "?" in record.msg and not args:
            record.msg = " ".join(
                w.split("?", 1)[0] if "?" in w else w for w in record.msg.split(" ")
            )
        return True


def install() -> None:
    """Add the filter to ``urllib3.connectionpool`` (once per process)."""
    global _installed
    with _lock:
        if not _installed:
            logging.getLogger("urllib3.connectionpool").addFilter(_DropQuery())
            _installed = True
