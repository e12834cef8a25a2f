"""Reading the store: ``nbchat.logs()`` (every stored message as a history DataFrame) and
``nbchat.conversations()`` (one row per stored conversation).

``logs()`` reads the columns as tuples, makes one DataFrame of them, parses each distinct
parameters text once (they repeat from message to message) and hands the tables to
:func:`nbchat.data.frames.frame_of`, which makes ``history()``'s columns and dtypes: no dict per
message (``benchmarks/bench_store.py``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbchat.data.store import Store, get_store

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["conversations", "logs", "parse_time"]

_UNITS = {
    "s": "seconds",
    "sec": "seconds",
    "second": "seconds",
    "min": "minutes",
    "minute": "minutes",
    "h": "hours",
    "hour": "hours",
    "d": "days",
    "day": "days",
    "w": "weeks",
    "week": "weeks",
}
_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?(?:\s+ago)?\s*$", re.I)

#: The columns read, in order (``extra`` holds the fields without a column, as JSON).
_SELECT = (
    "m.id",
    "m.role",
    "m.content",
    "m.status",
    "m.model",
    "m.api",
    "coalesce(m.params, '{}')",
    "m.prompt_tokens",
    "m.completion_tokens",
    "m.total_tokens",
    "m.ttft",
    "m.latency",
    "m.tokens_per_second",
    "m.finish_reason",
    "m.error",
    "m.created_at",
    "m.parent_id",
    "m.extra",
    "m.conversation_id",
    "c.name",
)
_NAMES = [c.split(".")[-1] if "(" not in c else "params" for c in _SELECT]


def parse_time(value: Any, *, now: _dt.datetime | None = None) -> str | None:
    """A bound for ``since``/``until`` as the store's ISO 8601 UTC text.

    Takes None, a datetime or pandas Timestamp (naive means UTC), an ISO date string, or an
    age such as ``"7 days"``, ``"3 hours"``, ``"90 min"``, ``"2 weeks ago"``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        m = _AGO.match(value)
        if m:
            unit = _UNITS.get(m.group(2).lower())
            if unit is None:
                raise ValueError(f"unknown time unit in {value!r}; use e.g. '7 days', '3 hours'")
            now = now or _dt.datetime.now(_dt.UTC)
            value = now - _dt.timedelta(**{unit: float(m.group(1))})
        else:
            try:
                value = _dt.datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"cannot read {value!r} as a time; use a timestamp or e.g. '7 days'"
                ) from None
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"since/until take a timestamp or a string, not {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return str(value.astimezone(_dt.UTC).isoformat(timespec="milliseconds"))


def logs(
    since: Any = None,
    until: Any = None,
    model: str | None = None,
    conversation: str | None = None,
    text: str | None = None,
) -> pd.DataFrame:
    """Every stored message, across notebooks and sessions, as a DataFrame.

    Parameters
    ----------
    since, until:
        Timestamps, ISO strings, or ages like ``"7 days"`` (``until`` is exclusive).
    model:
        Only messages of this model (a reply's model; a user message records the model it
        was sent to).
    conversation:
        A conversation's name or id.
    text:
        A substring of the content (case-insensitive).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`nbchat.history` (``turn`` counts user messages within each
        conversation) plus ``conversation_id`` and ``conversation`` (its name, or None),
        oldest first. ``nbchat.usage`` and ``nbchat.plot_usage`` accept it.

    Raises
    ------
    NbchatError
        The store is off (``NBCHAT_STORE=off``).
    """
    import pandas as pd

    start, end = parse_time(since), parse_time(until)
    store = get_store()
    filters = (start, end, model, conversation, text)
    cached = _cached(store, warm_only=any(f is not None for f in filters))
    if cached is None:  # a filtered first look: let SQLite filter (the cache stays cold)
        where, args = [], []
        for clause, value in (
            ("m.created_at >= ?", start),
            ("m.created_at < ?", end),
            ("m.model = ?", model),
            ("instr(lower(m.content), lower(?)) > 0", text),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        if conversation is not None:
            where.append("(c.name = ? OR m.conversation_id = ?)")
            args += [conversation, conversation]
        return _numbered(_fetch(store, " AND ".join(where), args))
    keep = cached["role"].notna()
    if start is not None:
        keep &= cached["created_at"] >= pd.Timestamp(start)
    if end is not None:
        keep &= cached["created_at"] < pd.Timestamp(end)
    if model is not None:
        keep &= cached["model"] == model
    if conversation is not None:
        keep &= (cached["conversation"] == conversation) | (
            cached["conversation_id"] == conversation
        )
    if text is not None:
        keep &= cached["content"].str.lower().str.contains(text.lower(), regex=False)
    frame = cached if keep.all() else cached.loc[keep.to_numpy()].reset_index(drop=True)
    return _numbered(frame)


@dataclass
class _Snapshot:
    """Every stored message as a frame, up to ``top`` (the largest rowid read)."""

    top: int
    frame: pd.DataFrame
    ids: set[str]


#: Per store file and process: the frame of every message read so far. A later ``logs()``
#: reads only the rows added since (their rowids are larger); a rewritten or deleted row
#: (the count or an id does not match) makes it read everything again.
_snapshots: dict[tuple[str, int], _Snapshot] = {}
_snapshots_lock = threading.Lock()


def _cached(store: Store, *, warm_only: bool) -> pd.DataFrame | None:
    """Every stored message, oldest first (None if ``warm_only`` and nothing is cached)."""
    import pandas as pd

    ((top, count),) = store.query("SELECT coalesce(max(rowid), 0), count(*) FROM messages")
    key = (str(store.path), os.getpid())
    with _snapshots_lock:
        snap = _snapshots.get(key)
        if snap is None and warm_only:
            return None
        if snap is not None and snap.top == top and len(snap.frame) == count:
            return snap.frame
        frame, ids = None, set()
        if snap is not None and top > snap.top:
            new = _fetch(store, "m.rowid > ? AND m.rowid <= ?", [snap.top, top])
            old = snap.frame
            fresh = new["message_id"].tolist()
            if len(old) + len(new) == count and snap.ids.isdisjoint(fresh):
                frame, ids = pd.concat([old, new], ignore_index=True), snap.ids | set(fresh)
                for col in frame.columns:  # dtypes as if inferred over all the rows
                    if old[col].dtype != new[col].dtype:  # (one part was all None)
                        frame[col] = pd.Series(frame[col].tolist())
                if not frame["created_at"].is_monotonic_increasing:
                    frame = frame.sort_values("created_at", kind="stable", ignore_index=True)
        if frame is None:
            frame = _fetch(store, "m.rowid <= ?", [top])
            ids = set(frame["message_id"].tolist())
        _snapshots[key] = _Snapshot(top, frame, ids)
        return frame


def _fetch(store: Store, where: str, args: list[Any]) -> pd.DataFrame:
    import pandas as pd

    sql = (
        f"SELECT {', '.join(_SELECT)} FROM messages m "
        "LEFT JOIN conversations c ON c.id = m.conversation_id"
        + (f" WHERE {where}" if where else "")
        + " ORDER BY m.created_at, m.rowid"
    )
    return _frame(pd.DataFrame.from_records(store.query(sql, args), columns=_NAMES))


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``turn`` counting user messages within each conversation."""
    if len(frame):
        users = frame["role"] == "user"
        turn = users.groupby(frame["conversation_id"].to_numpy()).cumsum().clip(lower=1)
        frame = frame.assign(turn=turn.astype("Int64").array)
    return frame


def _parsed(column: pd.Series[Any], columns: list[str]) -> pd.DataFrame:
    """A column of JSON objects as a table: each distinct text parsed once (parameters repeat
    from message to message), None as an empty object."""
    import pandas as pd

    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    parsed = pd.DataFrame.from_records(
        [*(json.loads(u) for u in uniques), {}], columns=columns
    )  # the last row, empty, is where None (code -1) points
    return parsed.iloc[codes].reset_index(drop=True)


def _frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The ``logs()`` frame from the stored rows: ``history()``'s columns and dtypes
    (``frames.frame_of``), then ``conversation_id`` and ``conversation``."""
    from nbchat.data.frames import _MESSAGE_KEYS, _USAGE_KEYS, PARAM_COLUMNS, frame_of

    extras = [k for k in _MESSAGE_KEYS if k not in raw.columns and k not in ("params", "usage")]
    extra = _parsed(raw["extra"], [*extras, "usage"])
    # None, not NaN, where a field is missing: as history() of the stored message dicts
    top = raw.assign(
        usage=None, **{k: extra[k].astype(object).where(extra[k].notna(), None) for k in extras}
    )
    counts = raw[["prompt_tokens", "completion_tokens", "total_tokens"]].set_axis(
        ["prompt", "completion", "total"], axis=1
    )
    whole = extra["usage"]  # a usage dict with more than the counts, kept whole
    if whole.notna().any():
        for key in ("prompt", "completion", "total"):
            kept = whole.map(lambda u, k=key: u.get(k) if isinstance(u, dict) else None)
            counts[key] = counts[key].where(kept.isna(), kept)
    for key in _USAGE_KEYS[3:]:
        counts[key] = None
    frame = frame_of(top, _parsed(raw["params"], list(PARAM_COLUMNS)), counts)
    frame["conversation_id"] = raw["conversation_id"].astype(object)
    frame["conversation"] = raw["name"].astype(object).where(raw["name"].notna(), None)
    return frame


def conversations() -> pd.DataFrame:
    """One row per stored conversation, most recent activity first.

    Columns: ``conversation_id``, ``conversation`` (the name, or None), ``turns`` (user
    messages), ``messages``, ``tokens`` (total tokens reported), ``notebook``, ``created_at``
    and ``last_activity`` (UTC timestamps).
    """
    import pandas as pd

    rows = get_store().query(
        """SELECT c.id, c.name, count(CASE WHEN m.role = 'user' THEN 1 END), count(m.id),
            sum(coalesce(m.total_tokens, m.prompt_tokens + m.completion_tokens)),
            c.notebook, c.created_at, max(c.updated_at, coalesce(max(m.created_at), ''))
        FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
        GROUP BY c.id ORDER BY 8 DESC"""
    )
    columns = [
        "conversation_id",
        "conversation",
        "turns",
        "messages",
        "tokens",
        "notebook",
        "created_at",
        "last_activity",
    ]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for name in ("turns", "messages", "tokens"):
        frame[name] = frame[name].astype("Int64")
    for name in ("created_at", "last_activity"):
        frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601", errors="coerce")
    return frame
