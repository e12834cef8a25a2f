"""Reading the store: ``nbchat.logs()`` (every stored message as a history DataFrame) and
``nbchat.conversations()`` (one row per stored conversation).

``logs()`` asks SQLite for the rows as one JSON array (``json_group_array`` over
``json_object``: built in C), parses it with one ``json.loads`` and hands the message dicts to
:func:`nbchat.data.frames.history`: 100,000 turns in well under a second
(``benchmarks/bench_store.py``).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import TYPE_CHECKING, Any

from nbchat.data.store import get_store

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

#: The message dict, built by SQLite (keys as in ``Message.to_dict()``) plus the conversation.
#: ``extra`` is the patch (json_patch drops a key whose patch value is null: it holds none).
_JSON_ROW = """json_patch(json_object(
    'id', m.id, 'role', m.role, 'content', m.content, 'status', m.status, 'model', m.model,
    'api', m.api, 'params', json(coalesce(m.params, '{}')),
    'usage', CASE WHEN m.prompt_tokens IS NULL AND m.completion_tokens IS NULL
        AND m.total_tokens IS NULL THEN NULL ELSE json_object('prompt', m.prompt_tokens,
        'completion', m.completion_tokens, 'total', m.total_tokens) END,
    'ttft', m.ttft, 'latency', m.latency, 'tokens_per_second', m.tokens_per_second,
    'finish_reason', m.finish_reason, 'error', m.error, 'created_at', m.created_at,
    'parent_id', m.parent_id, 'conversation_id', m.conversation_id, 'conversation', c.name),
    coalesce(m.extra, '{}'))"""


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
        A substring of the content (case-insensitive for ASCII).

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

    from nbchat.data.frames import history

    where, args = [], []
    for clause, value in (
        ("m.created_at >= ?", parse_time(since)),
        ("m.created_at < ?", parse_time(until)),
        ("m.model = ?", model),
        ("instr(lower(m.content), lower(?)) > 0", text),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    if conversation is not None:
        where.append("(c.name = ? OR m.conversation_id = ?)")
        args += [conversation, conversation]
    sql = (
        f"SELECT json_group_array(json(row)) FROM (SELECT {_JSON_ROW} AS row FROM messages m "
        "LEFT JOIN conversations c ON c.id = m.conversation_id"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY m.created_at, m.rowid)"
    )
    ((raw,),) = get_store().query(sql, args)
    msgs: list[dict[str, Any]] = json.loads(raw)
    frame = history(msgs)
    ids = pd.Series([m["conversation_id"] for m in msgs], dtype=object)
    frame["conversation_id"] = ids
    frame["conversation"] = pd.Series([m["conversation"] for m in msgs], dtype=object)
    if len(frame):
        frame["turn"] = (
            (frame["role"] == "user").groupby(ids).cumsum().clip(lower=1).astype("Int64")
        )
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
