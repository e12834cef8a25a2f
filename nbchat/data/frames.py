"""The conversation as pandas DataFrames: ``history()`` (one row per message) and ``usage()``
(one row per assistant reply, with running totals).

A *source* is a :class:`~nbchat.ChatPanel` (anything with a ``messages`` list), a list of the
panel's message dicts, a list of plain ``{"role", "content"}`` dicts, or a list that mixes plain
dicts and :class:`~nbchat.Reply` objects (what :class:`~nbchat.Client` gives without a panel).

Unknown values are missing (``<NA>``, ``NaN``, ``NaT`` or ``None``), never zero: a server that
reports no usage must not look like a free reply. There is never a key column.

pandas is imported inside the functions (STYLE.md 2.14), so ``import nbchat`` stays fast.
Columns are extracted a table at a time (``DataFrame.from_records`` over the message dicts, then
over their ``params`` and ``usage`` dicts), converted with vectorised operations, and the frame is
constructed once: 100,000 messages take about 0.2 s (``benchmarks/bench_frames.py``).

The columns come from the records: one per field of :class:`~nbchat.records.Message` that a
person reads, and one per generation parameter in :data:`~nbchat.records.PARAMS` (plus
``system``). A new parameter or message field needs no change here beyond its dtype.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from nbchat.records import (
    MESSAGE_FIELDS,
    MESSAGE_STATUS,
    PARAM_NAMES,
    PARAMS,
    Message,
    Reply,
    Usage,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "HISTORY_COLUMNS",
    "USAGE_COLUMNS",
    "history",
    "usage",
]

#: Message fields that are not columns: the request id is internal, a tool request is a nested
#: object, ``branches`` is the panel's view of the tree (``chat.branches()`` shows it whole).
HIDDEN_FIELDS = ("request_id", "tool_request", "branches", "tool_calls")
#: Message fields whose column has another name.
RENAMED = {"id": "message_id"}
#: Message fields spread over several columns: ``params`` (each parameter, then the system
#: prompt) and ``usage`` (the three token counts).
PARAM_COLUMNS = (*PARAM_NAMES, "system")
USAGE_COUNT_COLUMNS = ("prompt_tokens", "completion_tokens", "total_tokens")
_SPREAD: dict[str, tuple[str, ...]] = {"params": PARAM_COLUMNS, "usage": USAGE_COUNT_COLUMNS}

#: ``turn``, then the fields of :class:`~nbchat.records.Message` in order (spread, hidden ones
#: left out).
HISTORY_COLUMNS: tuple[str, ...] = (
    "turn",
    *(
        col
        for f in MESSAGE_FIELDS
        if f not in HIDDEN_FIELDS
        for col in _SPREAD.get(f, (RENAMED.get(f, f),))
    ),
)
USAGE_COLUMNS = (
    "turn",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cumulative_prompt",
    "cumulative_completion",
    "cumulative_total",
    "cost",
    "cumulative_cost",
    "status",
)


def _messages(source: Any) -> list[Any]:
    """The list of messages behind a source (panel, list, tuple or other iterable)."""
    msgs = getattr(source, "messages", source)
    if isinstance(msgs, (str, bytes, Mapping)):
        raise TypeError(
            "history() takes a ChatPanel or a list of messages, not "
            f"{type(source).__name__}; wrap a single message in a list"
        )
    if isinstance(msgs, list):
        return msgs
    if isinstance(msgs, Iterable):
        return list(msgs)
    raise TypeError(f"history() takes a ChatPanel or a list of messages, not {type(source)!r}")


_NO_PARAMS: dict[str, Any] = {}
_MESSAGE_KEYS = tuple(f for f in MESSAGE_FIELDS if f not in HIDDEN_FIELDS)
_USAGE_KEYS = (
    "prompt",
    "completion",
    "total",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
)
#: Reply.status values that differ from the panel's (the panel's own stay as they are).
_REPLY_STATUS = {k: v for k, v in MESSAGE_STATUS.items() if k != v}


def _usage_dict(u: Any) -> dict[str, Any] | None:
    if isinstance(u, Usage):
        return u.to_dict()
    if isinstance(u, Mapping):
        return dict(u)
    return None


def _as_dict(i: int, m: Any) -> dict[str, Any]:
    """A Reply (or another mapping) in the shape of the panel's message dicts."""
    if isinstance(m, Reply):  # through the one message record, like the panel's messages
        d = Message.from_reply(
            m, message_id="", request_id="", created_at="", model=m.model, params={}
        ).to_dict()
        d.update(id=None, request_id=None, created_at=None)  # a bare Reply has none of these
        return d
    if isinstance(m, Mapping):
        return dict(m)
    raise TypeError(f"message {i} is a {type(m).__name__}; expected a dict or an nbchat.Reply")


def _int_array(values: list[Any]) -> Any:
    """A nullable Int64 array from a list of ints and Nones (fast: no per-item pandas)."""
    import numpy as np
    import pandas as pd

    mask = np.array([v is None for v in values], dtype=bool)
    data = np.array([0 if v is None else v for v in values], dtype=np.int64)
    return pd.arrays.IntegerArray(data, mask)


def _ints(col: Any) -> Any:
    """An object or float column (None/NaN for missing) as a nullable Int64 Series."""
    import pandas as pd

    if col.dtype == object:
        col = pd.to_numeric(col, errors="coerce")
    return col.astype("Int64")


def _floats(col: Any) -> Any:
    import pandas as pd

    return pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=float("nan"))


def _param_column(kind: str, col: Any) -> Any:
    """A parameter column in its dtype: float64, nullable Int64, or objects (lists)."""
    if kind == "float":
        return _floats(col)
    if kind == "int":
        return _ints(col).array
    return col.astype(object)


def history(source: Any) -> pd.DataFrame:
    """One row per message, in order.

    Parameters
    ----------
    source:
        A ChatPanel, a list of message dicts (the panel's or plain ``{"role", "content"}``),
        or a list mixing plain dicts and :class:`~nbchat.Reply` objects.

    Returns
    -------
    pandas.DataFrame
        Columns (:data:`HISTORY_COLUMNS`): ``turn`` (1-based, increments at each user
        message), ``message_id``, ``role``, ``content``, ``status`` (complete, stopped,
        interrupted, error),
        ``model``, ``api``, one column per generation parameter (``temperature``,
        ``max_tokens``, ``stop``, ``top_p``, ``top_k``) and ``system``: what the message was
        sent with; ``prompt_tokens``, ``completion_tokens``, ``total_tokens`` (nullable
        ``Int64``), ``ttft``, ``latency``, ``tokens_per_second`` (seconds / rate, ``NaN`` when
        unknown), ``finish_reason``, ``error``, ``created_at`` (UTC, ``NaT`` when unknown) and
        ``parent_id`` (the message this one follows; see ``ChatPanel.branches()``).
    """
    import pandas as pd

    msgs = [m if type(m) is dict else _as_dict(i, m) for i, m in enumerate(_messages(source))]
    # One C-level pass per table (DataFrame.from_records over dicts), not a .get() per cell.
    # A key a message lacks comes back as NaN: missing, like a None value.
    top = pd.DataFrame.from_records(msgs, columns=list(_MESSAGE_KEYS))
    params = pd.DataFrame.from_records(
        [p if type(p) is dict else _NO_PARAMS for p in top["params"].tolist()],
        columns=list(PARAM_COLUMNS),
    )
    usages = top["usage"].tolist()
    if not all(u is None or type(u) is dict for u in usages):
        usages = [None if u is None else _usage_dict(u) for u in usages]
    counts = pd.DataFrame.from_records(
        [u if type(u) is dict else _NO_PARAMS for u in usages], columns=list(_USAGE_KEYS)
    )
    return frame_of(top, params, counts)


def frame_of(top: pd.DataFrame, params: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """The history frame from three tables, row for row: ``top`` (a column per message field),
    ``params`` (``PARAM_COLUMNS``) and ``counts`` (the usage keys). ``nbchat.logs()`` builds
    them straight from the store's columns."""
    import numpy as np
    import pandas as pd

    prompt = _ints(counts["prompt"]).fillna(_ints(counts["prompt_tokens"]))
    completion = _ints(counts["completion"]).fillna(_ints(counts["completion_tokens"]))
    # both parts known: the total is known too
    total = _ints(counts["total"]).fillna(_ints(counts["total_tokens"])).fillna(prompt + completion)
    ttft = _floats(top["ttft"])
    latency = _floats(top["latency"])
    tps = _floats(top["tokens_per_second"])
    unknown = np.isnan(tps) & ~np.isnan(latency) & ~completion.isna().to_numpy()
    if unknown.any():
        span = latency - np.nan_to_num(ttft)
        rate = completion.to_numpy(dtype=np.float64, na_value=np.nan) / np.where(
            span > 0, span, np.nan
        )
        tps = np.where(unknown, rate, tps)
    role = top["role"].tolist()
    turn: list[Any] = []
    current = 0
    for r in role:
        if r == "user":
            current += 1
        turn.append(current or 1)

    data: dict[str, Any] = {
        "turn": _int_array(turn),
        "prompt_tokens": prompt.array,
        "completion_tokens": completion.array,
        "total_tokens": total.array,
        "ttft": ttft,
        "cost": _floats(top["cost"]),  # USD, NaN when unknown (nbchat.data.prices)
        "request_bytes": _ints(top["request_bytes"]).array,
        "latency": latency,
        "tokens_per_second": tps,
        "status": top["status"].replace(_REPLY_STATUS),
        "created_at": pd.to_datetime(
            top["created_at"].astype(object), utc=True, format="ISO8601", errors="coerce"
        ),
        "system": params["system"],
    }
    for name in PARAM_NAMES:
        data[name] = _param_column(PARAMS[name].kind, params[name])
    for name in _MESSAGE_KEYS:
        data.setdefault(RENAMED.get(name, name), top[name])  # the rest as they are
    return pd.DataFrame(data, columns=list(HISTORY_COLUMNS))


def usage(source: Any) -> pd.DataFrame:
    """Token usage: one row per assistant reply, with running totals.

    Parameters
    ----------
    source:
        Anything :func:`history` takes, or a history DataFrame.

    Returns
    -------
    pandas.DataFrame
        ``turn``, ``model``, ``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
        ``cumulative_prompt``, ``cumulative_completion``, ``cumulative_total`` (``Int64``;
        a running sum of the known values, ``<NA>`` until one is known), ``cost`` and
        ``cumulative_cost`` (USD; ``NaN`` when unknown, never 0; the running sum of the known
        costs, ``NaN`` until one is known) and ``status``.
    """
    import numpy as np
    import pandas as pd

    frame = source if isinstance(source, pd.DataFrame) else history(source)
    if "cumulative_total" in frame.columns:  # already a usage frame
        return frame.loc[:, list(USAGE_COLUMNS)].reset_index(drop=True)
    rows = frame[frame["role"] == "assistant"]
    out: dict[str, Any] = {
        "turn": rows["turn"].array,
        "model": rows["model"].to_numpy(dtype=object),
    }
    for name, cum_name in (
        ("prompt_tokens", "cumulative_prompt"),
        ("completion_tokens", "cumulative_completion"),
        ("total_tokens", "cumulative_total"),
    ):
        col = rows[name].astype("Int64").array
        out[name] = col
        running: list[Any] = []
        acc: int | None = None
        for v, missing in zip(col.to_numpy(dtype=object), col.isna(), strict=True):
            if not missing:
                acc = (acc or 0) + int(v)
            running.append(acc)
        out[cum_name] = _int_array(running)
    cost = _floats(rows["cost"]) if "cost" in rows.columns else np.full(len(rows), np.nan)
    known = ~np.isnan(cost)
    out["cost"] = cost
    out["cumulative_cost"] = np.where(
        np.cumsum(known) > 0, np.cumsum(np.where(known, cost, 0.0)), np.nan
    )
    out["status"] = rows["status"].to_numpy(dtype=object)
    result = pd.DataFrame(out, columns=list(USAGE_COLUMNS))
    for name in ("model", "status"):
        result[name] = result[name].astype(frame[name].dtype)
    return result
