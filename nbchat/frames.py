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

The module also holds the JSON save format of a panel (``ChatPanel.to_json``/``from_json``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from nbchat._version import __version__
from nbchat.conversation import MESSAGE_STATUS, Reply, Usage

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "HISTORY_COLUMNS",
    "USAGE_COLUMNS",
    "history",
    "panel_from_json",
    "panel_to_json",
    "usage",
]

HISTORY_COLUMNS = (
    "turn",
    "role",
    "content",
    "api",
    "model",
    "temperature",
    "max_tokens",
    "stop",
    "system",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "ttft",
    "latency",
    "tokens_per_second",
    "finish_reason",
    "status",
    "error",
    "created_at",
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
    "status",
)
_INT_COLUMNS = ("turn", "prompt_tokens", "completion_tokens", "total_tokens")
_FLOAT_COLUMNS = ("temperature", "ttft", "latency", "tokens_per_second")
#: The save format's name and version, checked by ``panel_from_json``.
JSON_FORMAT = "nbchat.conversation"
JSON_VERSION = 1


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
_MESSAGE_KEYS = (
    "role",
    "content",
    "api",
    "model",
    "params",
    "usage",
    "ttft",
    "latency",
    "tokens_per_second",
    "finish_reason",
    "status",
    "error",
    "created_at",
)
_PARAM_KEYS = ("temperature", "max_tokens", "stop", "system")
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
    if isinstance(m, Reply):
        return {
            "role": m.role,
            "content": m.content,
            "api": m.api,
            "model": m.model,
            "usage": m.usage.to_dict() if m.usage else None,
            "ttft": m.ttft,
            "latency": m.latency,
            "tokens_per_second": m.tokens_per_second,
            "finish_reason": m.finish_reason,
            "status": m.status,
            "error": m.error,
        }
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
        Columns ``turn`` (1-based, increments at each user message), ``role``, ``content``,
        ``api``, ``model``, ``temperature``, ``max_tokens``, ``stop``, ``system`` (the
        parameters the message was sent with), ``prompt_tokens``, ``completion_tokens``,
        ``total_tokens`` (nullable ``Int64``), ``ttft``, ``latency``, ``tokens_per_second``
        (seconds / rate, ``NaN`` when unknown), ``finish_reason``, ``status`` (complete,
        stopped, interrupted, error), ``error`` and ``created_at`` (UTC, ``NaT`` when unknown).
    """
    import numpy as np
    import pandas as pd

    msgs = [m if type(m) is dict else _as_dict(i, m) for i, m in enumerate(_messages(source))]
    # One C-level pass per table (DataFrame.from_records over dicts), not a .get() per cell.
    # A key a message lacks comes back as NaN: missing, like a None value.
    top = pd.DataFrame.from_records(msgs, columns=list(_MESSAGE_KEYS))
    params = pd.DataFrame.from_records(
        [p if type(p) is dict else _NO_PARAMS for p in top["params"].tolist()],
        columns=list(_PARAM_KEYS),
    )
    usages = top["usage"].tolist()
    if not all(u is None or type(u) is dict for u in usages):
        usages = [None if u is None else _usage_dict(u) for u in usages]
    counts = pd.DataFrame.from_records(
        [u if type(u) is dict else _NO_PARAMS for u in usages], columns=list(_USAGE_KEYS)
    )
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
        "role": top["role"],
        "content": top["content"],
        "api": top["api"],
        "model": top["model"],
        "temperature": _floats(params["temperature"]),
        "max_tokens": _ints(params["max_tokens"]).array,
        "stop": params["stop"].astype(object),
        "system": params["system"],
        "prompt_tokens": prompt.array,
        "completion_tokens": completion.array,
        "total_tokens": total.array,
        "ttft": ttft,
        "latency": latency,
        "tokens_per_second": tps,
        "finish_reason": top["finish_reason"],
        "status": top["status"].replace(_REPLY_STATUS),
        "error": top["error"],
        "created_at": pd.to_datetime(
            top["created_at"].astype(object), utc=True, format="ISO8601", errors="coerce"
        ),
    }
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
        a running sum of the known values, ``<NA>`` until one is known) and ``status``.
    """
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
    out["status"] = rows["status"].to_numpy(dtype=object)
    result = pd.DataFrame(out, columns=list(USAGE_COLUMNS))
    for name in ("model", "status"):
        result[name] = result[name].astype(frame[name].dtype)
    return result


# ---- save and load (ChatPanel.to_json / from_json) ------------------------------------


def panel_to_json(panel: Any) -> str:
    """The panel's conversation, model, system prompt and parameters as JSON.

    Never the API key, the client or the reply in progress (only committed messages).
    """
    state = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "nbchat": __version__,
        "model": panel.model,
        "system": panel.system,
        "params": dict(panel.params),
        "messages": [dict(m) for m in panel.messages],
    }
    return json.dumps(state, ensure_ascii=False, allow_nan=False)


def panel_from_json(data: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """Parse and check a ``panel_to_json`` document; returns its state dict."""
    state = json.loads(data) if isinstance(data, (str, bytes)) else dict(data)
    if not isinstance(state, dict) or state.get("format") != JSON_FORMAT:
        raise ValueError(f"not an nbchat conversation (expected format {JSON_FORMAT!r})")
    if int(state.get("version", 0)) > JSON_VERSION:
        raise ValueError(
            f"this conversation was saved by a newer nbchat (format version "
            f"{state['version']}); upgrade nbchat to load it"
        )
    messages = state.get("messages", [])
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ValueError("'messages' must be a list of message objects")
    return state
