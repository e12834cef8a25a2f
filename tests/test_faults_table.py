"""README's fault table is executable: every row is run against the embedded server.

The table whose header starts with ``| `fault=` |`` is parsed; for each fault mode the client
(both APIs, streaming) must raise the exception the "what the client does" column names, and
the other claims of that column (retried / no retry, partial text kept, status `x`, quoted
message words, "parsed as a sync reply", "Stop ends it at once") are checked too.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import nbchat
from nbchat.server.faults import CONTEXT_ERROR, FAULT_MODES, OVERLOADED

README = Path(__file__).resolve().parent.parent / "README.md"
MSGS = [{"role": "user", "content": "What is a token?"}]

#: What the server says for each fault whose row promises "the server's message".
SERVER_TEXT = {
    "500": "The server had an error while processing your request.",
    "error-event": OVERLOADED,
    "event-error": OVERLOADED,
    "error-field": str(CONTEXT_ERROR["message"]),
}


def _table() -> list[tuple[str, str, str]]:
    """(mode, expected exception name or "sync", the whole client column) per fault mode."""
    lines = README.read_text("utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| `fault=` |"))
    rows: list[tuple[str, str, str]] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, f"a fault-table row without three columns: {line!r}"
        modes = re.findall(r"`([^`]+)`", cells[0])
        outcome = cells[2]
        if outcome.lower() == "same" and rows:  # "same" repeats the row above
            outcome = rows[-1][2]
        if "parsed as a sync reply" in outcome:
            names = ["sync"]
        else:
            names = re.findall(r"`([A-Za-z]+Error)`", outcome)
        assert names, f"no client outcome in row {line!r}"
        if len(names) == 1:
            names *= len(modes)
        assert len(names) == len(modes), f"modes and outcomes do not pair up: {line!r}"
        rows += [(m, n, outcome) for m, n in zip(modes, names, strict=True)]
    return rows


ROWS = _table()


def test_the_table_lists_every_fault_mode() -> None:
    assert {mode for mode, _, _ in ROWS} == set(FAULT_MODES)
    assert len(ROWS) == len(FAULT_MODES)


def _client(server: Any, api: str, **kw: Any) -> nbchat.Client:
    base = server.url + ("/egp/v1" if api == "egp" else "/v1")
    kw.setdefault("max_retries", 0)
    return nbchat.Client(base_url=base, api=api, **kw)


def _model(mode: str, extra: str = "") -> str:
    opts = {
        "429": "&retry_after=0",  # 0: no Retry-After wait, the client's short backoff applies
        "stall": "&stall=2",
        "stall-mid": "&stall=2",
    }.get(mode, "")
    return f"demo?fault={mode}&after=3{opts}{extra}"


def _run(client: nbchat.Client, model: str) -> tuple[nbchat.Stream, BaseException | None]:
    stream = client.stream(MSGS, model=model)
    try:
        with stream:
            for _ in stream:
                pass
    except nbchat.NbchatError as exc:
        return stream, exc
    return stream, None


@pytest.mark.parametrize("api", ["egp", "openai"])
@pytest.mark.parametrize(("mode", "expected", "outcome"), ROWS, ids=[r[0] for r in ROWS])
def test_readme_fault_row(
    live_server: Any, api: str, mode: str, expected: str, outcome: str
) -> None:
    normal = _client(live_server, api).complete(MSGS, model="demo").content
    stalls = mode in ("stall", "stall-mid")
    client = _client(live_server, api, timeout=(5.0, 0.5) if stalls else 30.0)
    stream, exc = _run(client, _model(mode))

    if expected == "sync":
        assert exc is None
        assert stream.reply is not None and stream.reply.status == "complete"
        assert stream.reply.content == normal
        return
    assert exc is not None, f"fault={mode}: no exception, the README says {expected}"
    assert type(exc).__name__ == expected, f"fault={mode}: {exc!r}"
    message = str(exc)

    for phrase in re.findall(r'"([^"]+)"', outcome):
        assert phrase in message, f"fault={mode}: {phrase!r} not in {message!r}"
    if "partial text kept" in outcome:
        assert isinstance(exc, nbchat.StreamError)
        assert exc.partial and normal.startswith(exc.partial)
        assert exc.reply is not None and exc.reply.content == exc.partial
    for status in re.findall(r"status `(\w+)`", outcome):
        assert isinstance(exc, nbchat.StreamError) and exc.reply is not None
        assert exc.reply.status == status
    if "server's message" in outcome:
        assert SERVER_TEXT[mode] in message, f"fault={mode}: {message!r}"
    if "page's text" in outcome:
        assert "502 Bad Gateway" in message
    if "`loc: msg`" in outcome:
        assert re.search(r"messages'?: field required", message), message
    if "no retry" in outcome:
        again = _client(live_server, api, max_retries=2).stream(MSGS, model=_model(mode))
        with pytest.raises(type(exc)), again:
            list(again)
        assert again.requests_made == 1, f"fault={mode} was retried"
    if "retried" in outcome:
        # A fresh model string (the server counts times=N per string): it fails once,
        # then the retry succeeds.
        retried = _client(live_server, api, max_retries=1).stream(
            MSGS, model=_model(mode, f"&times=1&ttft=0.0000{time.time_ns() % 10**9}")
        )
        with retried:
            text = "".join(c.delta for c in retried)
        assert retried.requests_made == 2 and text == normal
    if "Stop ends it at once" in outcome:
        slow = _client(live_server, api, timeout=(5.0, 30.0)).stream(
            MSGS, model=_model(mode).replace("stall=2", "stall=20")
        )
        threading.Timer(0.3, slow.close).start()
        started = time.monotonic()
        with slow:
            list(slow)
        assert time.monotonic() - started < 2.0
        assert slow.reply is not None and slow.reply.status == "cancelled"
