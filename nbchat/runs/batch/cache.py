"""The batch cache: finished replies in SQLite (WAL), keyed by the request's fingerprint.

One row per request that ended ``complete``, committed as soon as it finishes, so a run
killed at any point keeps every reply it had received; a re-run looks each request up and
sends only the ones not found. The key is :meth:`nbchat.client.Request.fingerprint`: a hash of
the API, the URL without credentials and the exact JSON body (model, messages, parameters,
the schema's ``response_format`` or instructions), so different prompts never collide.

Stored per reply: the fingerprint, the request body (what was asked, without ``stream``
fields), the reply's text, finish reason, token usage, model, timings and attempts, and when.
Never a header, so never a key.

WAL lets readers (another process resuming, a notebook inspecting) work while a run writes;
``synchronous=NORMAL`` keeps each commit off the disk's flush path: a killed process loses
nothing, a power cut may lose the last commits (they are then asked again).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbchat.records import now_iso

__all__ = ["Cache", "Cached"]

SCHEMA_VERSION = 1
_CREATE = """
CREATE TABLE IF NOT EXISTS replies (
    request_hash TEXT PRIMARY KEY,
    api TEXT,
    model TEXT,
    content TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    ttft REAL,
    latency REAL,
    attempts INTEGER,
    created_at TEXT NOT NULL,
    request TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
_FIELDS = (
    "request_hash",
    "api",
    "model",
    "content",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "ttft",
    "latency",
    "attempts",
)
#: SQLite's limit on host parameters per statement is 32,766 (999 before 3.32).
_CHUNK = 900


@dataclass(frozen=True)
class Cached:
    """A finished reply as the cache holds it."""

    request_hash: str
    api: str | None
    model: str | None
    content: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    ttft: float | None
    latency: float | None
    attempts: int | None


class Cache:
    """One SQLite file; ``also`` are more files only read (a Dask run's other partitions).

    Used from one thread (the run's coordinator).
    """

    def __init__(self, path: str | Path, also: Iterable[str | Path] = ()) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_CREATE)
        self._db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        self._also = [Path(p) for p in also if Path(p) != self.path]

    def get_many(self, keys: Sequence[str]) -> dict[str, Cached]:
        """The cached replies among ``keys``."""
        found: dict[str, Cached] = {}
        if not keys:
            return found
        dbs: list[sqlite3.Connection] = [self._db]
        extra: list[sqlite3.Connection] = []
        for p in self._also:
            if p.exists():
                try:
                    extra.append(sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=30.0))
                except sqlite3.Error:
                    continue
        try:
            for db in [*dbs, *extra]:
                todo = [k for k in keys if k not in found]
                for i in range(0, len(todo), _CHUNK):
                    part = todo[i : i + _CHUNK]
                    marks = ",".join("?" * len(part))
                    try:
                        rows = db.execute(
                            f"SELECT {','.join(_FIELDS)} FROM replies "
                            f"WHERE request_hash IN ({marks})",
                            part,
                        ).fetchall()
                    except sqlite3.OperationalError:  # a file that is not (yet) a cache
                        break
                    for row in rows:
                        found[row[0]] = Cached(*row)
        finally:
            for db in extra:
                db.close()
        return found

    def put(self, entry: Cached, request: Mapping[str, Any] | None = None) -> None:
        """Store one finished reply, committed at once."""
        body = None
        if request is not None:
            body = json.dumps(
                {k: v for k, v in request.items() if k not in ("stream", "stream_options")},
                ensure_ascii=False,
            )
        self._db.execute(
            f"INSERT OR REPLACE INTO replies ({','.join(_FIELDS)}, created_at, request) "
            f"VALUES ({','.join('?' * (len(_FIELDS) + 2))})",
            (*(getattr(entry, f) for f in _FIELDS), now_iso(), body),
        )

    def count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM replies").fetchone()
        return int(row[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
