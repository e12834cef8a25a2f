"""The conversation store: one SQLite file of every finished turn, so conversations survive.

Where: ``platformdirs.user_data_dir("nbchat")/store.db`` (``~/.local/share/nbchat/store.db``
on Linux), never the working directory. ``NBCHAT_STORE=/some/path.db`` moves it;
``NBCHAT_STORE=off`` switches it off (then :func:`get_store` raises an ``NbchatError`` saying so).

What: per message, the fields of :class:`~nbchat.records.Message` (id, parent id, role, content,
status, model, api, parameters, token usage, timings, finish reason, error, created_at, request
id, tool request), its conversation (id and name), the notebook path when known and what wrote it
(``panel``, ``magic``, ``client``, ``batch``). Never a key or a header: only message records are
written, and a record has no field for either.

Several kernels may write at once: the file is in WAL mode, every write is one short
``BEGIN IMMEDIATE`` transaction, and a writer waits up to ``BUSY_TIMEOUT_S`` for the lock
(``tests/data/test_store.py`` runs several processes against one file).

Tables (readable with any SQLite tool)::

    conversations(id, name UNIQUE, created_at, updated_at, active_leaf, notebook, source)
    messages(id, conversation_id, parent_id, role, content, status, model, api, params,
             prompt_tokens, completion_tokens, total_tokens, ttft, latency, tokens_per_second,
             finish_reason, error, created_at, request_id, tool_request,

             notebook, source, extra)

``params``, ``tool_request`` and ``extra`` (the other fields of a message, e.g. ``cost``) are
JSON text; ``created_at`` is ISO 8601 UTC.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from nbchat._exceptions import NbchatError
from nbchat.data.store_rows import (
    COLUMNS,
    INSERT,
    UPSERT_CONVERSATION,
    message_from_row,
    row,
    statements,
)
from nbchat.records import new_id, now_iso

__all__ = [
    "BUSY_TIMEOUT_S",
    "STORE_ENV",
    "Store",
    "StoreOff",
    "get_store",
    "notebook_path",
    "store_path",
    "write_turn",
]

log = logging.getLogger("nbchat")

#: The environment variable that moves (a path) or switches off (``off``) the store.
STORE_ENV = "NBCHAT_STORE"
_OFF = {"off", "0", "false", "no", "none", ""}
#: How long a writer waits for another process's write to finish.
BUSY_TIMEOUT_S = 30.0


class StoreOff(NbchatError):
    """The conversation store is switched off (``NBCHAT_STORE=off``)."""


def store_path() -> Path | None:
    """The store file: ``$NBCHAT_STORE``, else the per-user data folder; None when off."""
    value = os.environ.get(STORE_ENV)
    if value is not None:
        if value.strip().lower() in _OFF:
            return None
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("nbchat")) / "store.db"


def notebook_path() -> str | None:
    """The running notebook's path, when the front end tells the kernel (best effort)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        shell = None
    ns = getattr(shell, "user_ns", None) or {}
    for value in (ns.get("__vsc_ipynb_file__"), os.environ.get("JPY_SESSION_NAME")):
        if isinstance(value, str) and value:
            return value
    return None


class Store:
    """One SQLite store file. Thread-safe (one connection, one lock); one per process and path
    through :func:`get_store`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            # Conversations are private: the file is the user's alone (SQLite keeps the mode
            # for its -wal and -shm files).
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL is safe
        with self.transaction() as db:  # (executescript would commit the transaction first)
            for statement in statements():
                db.execute(statement)

    def __repr__(self) -> str:
        return f"<nbchat.Store {str(self.path)!r}>"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``: no deadlock upgrade)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- conversations -------------------------------------------------------------------

    def named(self, name: str, *, source: str = "panel") -> str:
        """The id of the conversation called ``name``, created (empty) if there is none."""
        now = now_iso()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO conversations (id, name, created_at, updated_at, notebook, source) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (new_id(), name, now, now, notebook_path(), source),
            )
            (cid,) = db.execute("SELECT id FROM conversations WHERE name = ?", (name,)).fetchone()
        return str(cid)

    def load(self, conversation_id: str) -> tuple[list[dict[str, Any]], str | None]:
        """(every message of the conversation, oldest first; the active leaf's id)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM messages WHERE conversation_id = ? "
                "ORDER BY created_at, rowid",
                (conversation_id,),
            ).fetchall()
            leaf = self._db.execute(
                "SELECT active_leaf FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        return [message_from_row(r) for r in rows], (leaf[0] if leaf else None)

    def write(
        self,
        conversation_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        name: str | None = None,
        active_leaf: str | None = None,
        notebook: str | None = None,
        source: str = "panel",
    ) -> None:
        """Write (or rewrite, by id) ``messages`` of a conversation in one transaction; the
        conversation's active leaf becomes ``active_leaf`` (default: the last message)."""
        rows = [row(m, conversation_id, notebook, source) for m in messages]
        leaf = active_leaf if active_leaf is not None else (rows[-1][0] if rows else None)
        now = now_iso()
        with self.transaction() as db:
            db.execute(
                UPSERT_CONVERSATION, (conversation_id, name, now, now, leaf, notebook, source)
            )
            db.executemany(INSERT, rows)

    def set_active(self, conversation_id: str, leaf: str | None) -> None:
        """Make ``leaf`` the end of the conversation's active branch (None: it is empty)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE conversations SET active_leaf = ?, updated_at = ? WHERE id = ?",
                (leaf, now_iso(), conversation_id),
            )


_stores: dict[tuple[Path, int], Store] = {}
_stores_lock = threading.Lock()


def get_store() -> Store:
    """The store of this process (at :func:`store_path`); ``StoreOff`` when it is switched off."""
    path = store_path()
    if path is None:
        raise StoreOff(
            f"the conversation store is off ({STORE_ENV}={os.environ.get(STORE_ENV)!r}); "
            f"unset {STORE_ENV} or set it to a file path to keep conversations"
        )
    key = (path.resolve(), os.getpid())  # a forked child opens its own connection
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(path)
        return store


def write_turn(
    messages: Sequence[Mapping[str, Any]],
    *,
    conversation_id: str | None = None,
    name: str | None = None,
    source: str = "api",
) -> str | None:
    """Write finished messages (``Message.to_dict()`` dicts, e.g. a user message and its reply)
    to the store; returns their conversation id (a new one unless given), or None when the
    store is off. Messages without a ``parent_id`` are chained in order.

    For batch rows and other callers outside the panel: ``write_turn([user, reply],
    source="batch")``. Never raises for a store problem (it is logged): a chat must not fail
    because the disk is full.
    """
    try:
        store = get_store()
    except StoreOff:
        return None
    cid = conversation_id or (store.named(name, source=source) if name else new_id())
    chained: list[dict[str, Any]] = []
    for m in messages:
        d = dict(m)
        if d.get("parent_id") is None and chained:
            d["parent_id"] = chained[-1].get("id")
        d.setdefault("id", new_id())
        chained.append(d)
    try:
        store.write(cid, chained, name=name, notebook=notebook_path(), source=source)
    except sqlite3.Error as exc:
        log.warning("nbchat could not write to the store %s: %s", store.path, exc)
    return cid
