"""Comparison results as a DataFrame, the leaderboard of votes, and the headless comparison.

:func:`compare` asks every prompt of every column through the batch engine
(``nbchat.runs.batch``: concurrency, retries, rate limits, cache), one batch run per column,
the columns at once; :class:`nbchat.Compare` (the widget) builds the same frame from its turns.

Columns of :func:`results_frame` (:data:`RESULT_COLUMNS`), one row per prompt x column:

=======================  ==================================================================
``prompt_id``            the prompt's id (shared by its columns' rows)
``prompt``               the prompt's text
``column``               the column's label (``nbchat.runs.columns``)
``shown_as``             blind mode: the letter the column was shown as for this prompt
``model``, ``params``    what was asked (``params``: a dict, with ``system``)
``content``              the reply's text (partial when stopped or interrupted)
``status``               ``complete``, ``stopped``, ``interrupted``, ``error`` (or
                         ``skipped``: a headless prompt that was missing)
``error``                why the row is not ``complete``
``prompt_tokens`` ...    ``prompt_tokens``, ``completion_tokens``, ``total_tokens``: Int64,
                         ``<NA>`` when the server reported none (never 0)
``ttft``, ``latency``    seconds; ``tokens_per_second`` completion tokens per second after
                         the first token (float64, NaN when unknown)
``finish_reason``        as the server said
``cost``                 USD (NaN when unknown, never 0 for unknown)
``vote``                 ``win``, ``loss``, ``tie``, ``bad`` (all bad), ``<NA>`` (no vote)
``created_at``           when the prompt was sent (UTC)
=======================  ==================================================================
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from nbchat._exceptions import ConfigError
from nbchat.client import Client
from nbchat.records import new_id, now_iso
from nbchat.runs.columns import Column, needs_default_client, parse_columns

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RESULT_COLUMNS", "VOTES", "compare", "leaderboard", "results_frame", "row"]

RESULT_COLUMNS = (
    "prompt_id",
    "prompt",
    "column",
    "shown_as",
    "model",
    "params",
    "content",
    "status",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "ttft",
    "latency",
    "tokens_per_second",
    "finish_reason",
    "cost",
    "vote",
    "created_at",
)
_STRING = (
    "prompt_id",
    "prompt",
    "column",
    "shown_as",
    "model",
    "content",
    "status",
    "error",
    "finish_reason",
    "vote",
)
_INT = ("prompt_tokens", "completion_tokens", "total_tokens")
_FLOAT = ("ttft", "latency", "tokens_per_second", "cost")
#: A row's vote: its column won, lost, tied, or all the prompt's replies were bad.
VOTES = ("win", "loss", "tie", "bad")
#: The batch engine's row status -> the message status a comparison reports.
_BATCH_STATUS = {
    "complete": "complete",
    "incomplete": "interrupted",
    "cancelled": "stopped",
    "error": "error",
    "invalid": "error",
    "skipped": "skipped",
}


def row(
    *,
    prompt_id: str,
    prompt: str,
    column: Column,
    message: Mapping[str, Any],
    created_at: str,
    shown_as: str | None = None,
    vote: str | None = None,
) -> dict[str, Any]:
    """One result row from a column's reply (a ``Message.to_dict()``)."""
    usage = message.get("usage") or {}
    return {
        "prompt_id": prompt_id,
        "prompt": prompt,
        "column": column.label,
        "shown_as": shown_as,
        "model": column.model,
        "params": dict(message.get("params") or column.params),
        "content": message.get("content") or "",
        "status": message.get("status"),
        "error": message.get("error"),
        "prompt_tokens": usage.get("prompt"),
        "completion_tokens": usage.get("completion"),
        "total_tokens": usage.get("total"),
        "ttft": message.get("ttft"),
        "latency": message.get("latency"),
        "tokens_per_second": message.get("tokens_per_second"),
        "finish_reason": message.get("finish_reason"),
        "cost": message.get("cost"),
        "vote": vote,
        "created_at": created_at,
    }


def results_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The rows as a typed DataFrame (:data:`RESULT_COLUMNS`; missing values are NA, never 0)."""
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for col in RESULT_COLUMNS:
        values = [r.get(col) for r in rows]
        if col in _STRING:
            data[col] = pd.array(values, dtype="string")
        elif col in _INT:
            data[col] = pd.array(values, dtype="Int64")
        elif col in _FLOAT:
            data[col] = np.array([np.nan if v is None else float(v) for v in values])
        elif col == "created_at":
            data[col] = pd.to_datetime(
                pd.Series(values, dtype="object"), utc=True, format="ISO8601"
            )
        else:
            objs = np.empty(len(values), dtype=object)
            objs[:] = values
            data[col] = objs
    return pd.DataFrame(data, columns=list(RESULT_COLUMNS))


def leaderboard(results: pd.DataFrame) -> pd.DataFrame:
    """Votes per column: ``column``, ``model``, ``votes``, ``wins``, ``ties``, ``losses``
    (an "all bad" vote is a loss for every column, counted again in ``bad``), ``win_rate``
    (wins / votes, NaN with no votes). Most wins first; every column is listed."""
    import pandas as pd

    rows = []
    for label, group in results.groupby("column", sort=False):
        votes = group["vote"].dropna()
        n = len(votes)
        wins = int((votes == "win").sum())
        bad = int((votes == "bad").sum())
        rows.append(
            {
                "column": label,
                "model": group["model"].iloc[0],
                "votes": n,
                "wins": wins,
                "ties": int((votes == "tie").sum()),
                "losses": int((votes == "loss").sum()) + bad,
                "bad": bad,
                "win_rate": wins / n if n else float("nan"),
            }
        )
    frame = pd.DataFrame(
        rows, columns=["column", "model", "votes", "wins", "ties", "losses", "bad", "win_rate"]
    )
    frame = frame.astype({"column": "string", "model": "string"})
    return frame.sort_values(["wins", "win_rate"], ascending=False, kind="stable").reset_index(
        drop=True
    )


# ---- headless ----------------------------------------------------------------------------


def compare(
    prompts: str | Iterable[str],
    models: Sequence[Any],
    *,
    client: Client | None = None,
    system: str | None = None,
    concurrency: int = 8,
    rpm: float | None = None,
    tpm: float | None = None,
    max_retries: int | None = None,
    cache: str | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Ask every prompt of every column, without a widget; the frame of ``Compare.results()``.

    ``models`` are columns as :class:`~nbchat.Compare` takes them: a model name,
    ``(model, params)`` or ``(client, model, params)``. Each column is one batch run
    (``nbchat.runs.batch``) over the prompts, with ``concurrency`` requests at once, retries,
    and ``cache=`` (a SQLite file: replies already there are not asked again); all columns run
    at once. ``rpm``/``tpm`` limit each server: columns that share a server share its limits
    (each gets an equal part). Each prompt is a new conversation (no history between prompts).
    Rows: prompt by prompt, columns in order; ``vote`` and ``shown_as`` are ``<NA>``.
    """
    import pandas as pd

    from nbchat.runs.batch.run import DEFAULT_MAX_RETRIES, run_batch
    from nbchat.runs.defaults import default_client

    texts = [prompts] if isinstance(prompts, str) else list(prompts)
    if not texts:
        raise ConfigError("compare() needs at least one prompt")
    if not all(isinstance(t, str) for t in texts):
        raise ConfigError("each prompt must be a string")
    fallback = None
    if client is None and needs_default_client(models):
        fallback = default_client()[0]
    columns = parse_columns(models, client, params, fallback)
    servers: dict[str, int] = {}
    for c in columns:
        servers[c.client.display_url] = servers.get(c.client.display_url, 0) + 1
    frame = pd.DataFrame({"prompt": texts})
    created_at = now_iso()
    prompt_ids = [new_id() for _ in texts]
    retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries

    def share(limit: float | None, c: Column) -> float | None:
        return None if limit is None else limit / servers[c.client.display_url]

    running: dict[int, int] = {}  # column -> the thread running its batch

    def run(i: int, c: Column) -> pd.DataFrame:
        running[i] = threading.get_ident()
        try:
            return run_batch(
                frame,
                "prompt",
                c.model,
                client=c.client,
                system=system,
                params=dict(c.params),
                concurrency=concurrency,
                rpm=share(rpm, c),
                tpm=share(tpm, c),
                max_retries=retries,
                cache=cache,
                progress=False,
            )
        finally:
            running.pop(i, None)

    with ThreadPoolExecutor(max_workers=len(columns), thread_name_prefix="nbchat-compare") as ex:
        futures = [ex.submit(run, i, c) for i, c in enumerate(columns)]
        try:
            frames = [f.result() for f in futures]
        except KeyboardInterrupt:
            # The notebook's stop button: each column's batch winds down as on an interrupt
            # of its own (replies that finish within its grace are kept, the rest "stopped").
            _interrupt(list(running.values()))
            frames = [f.result() for f in futures]
    sent = {"system": system} if system else {}
    rows = []
    for i, text in enumerate(texts):
        for c, out in zip(columns, frames, strict=True):
            r = out.iloc[i]
            rows.append(
                row(
                    prompt_id=prompt_ids[i],
                    prompt=text,
                    column=c,
                    message=_message(r, {**c.params, **sent}),
                    created_at=created_at,
                )
            )
    return results_frame(rows)


def _interrupt(threads: list[int]) -> None:
    """Raise KeyboardInterrupt in each of these threads (a batch coordinator handles it off the
    main thread like the stop button: ``nbchat.runs.batch.engine``)."""
    import ctypes

    for ident in threads:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
        )


def _message(r: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A batch result row as the message dict ``row()`` reads."""
    import pandas as pd

    def val(name: str) -> Any:
        v = r.get(name)
        return None if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)) else v

    completion, ttft, latency = val("completion_tokens"), val("ttft"), val("latency")
    tps = None
    if completion is not None and latency is not None and latency - (ttft or 0.0) > 0:
        tps = int(completion) / (latency - (ttft or 0.0))
    status = str(val("status") or "error")
    return {
        "content": val("content") or "",
        "status": _BATCH_STATUS.get(status, status),
        "error": val("error"),
        "params": params,
        "usage": {
            "prompt": val("prompt_tokens"),
            "completion": completion,
            "total": val("total_tokens"),
        },
        "ttft": ttft,
        "latency": latency,
        "tokens_per_second": tps,
        "finish_reason": val("finish_reason"),
        "cost": val("cost"),
    }
