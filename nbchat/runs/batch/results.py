"""The result of a batch run as a DataFrame, and :func:`batch_stats`.

One row per input row, with the input's index. Columns (:data:`COLUMNS`), then one per
top-level property of ``schema=``:

========================  =================================================================
``content``               the reply's text (partial for ``incomplete``/``cancelled``)
``status``                ``complete``, ``incomplete`` (cut after it began), ``error`` (no
                          usable reply after the retries), ``invalid`` (a reply that fails
                          ``schema=``), ``cancelled`` (interrupted, or stopped by
                          ``on_error="raise"``), ``skipped`` (nothing to send: see ``error``)
``error``                 why the row is not ``complete``
``finish_reason``         as the server said (``stop``, ``length``, ...)
``prompt_tokens`` ...     ``prompt_tokens``, ``completion_tokens``, ``total_tokens``: Int64,
                          missing is ``<NA>``, never 0
``ttft``, ``latency``     seconds (float64, NaN when unknown)
``cost``                  USD at the request's prices (float64; NaN when unknown, never 0 for
                          unknown: no price, no usage, or a cached row)
``attempts``              HTTP requests made for the row in this run (0 when cached or skipped)
``cached``                the reply came from ``cache=`` without a request
``request_hash``          the request's fingerprint: the cache key and OpenAI Batch ``custom_id``
``model``                 the model that answered (as the server reported it)
========================  =================================================================

Rows that send the same request (same fingerprint) share one request and its reply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from nbchat.runs.batch.engine import Result, RunStats
    from nbchat.runs.batch.schema import OutputSchema

__all__ = [
    "ATTRS_KEY",
    "COLUMNS",
    "BatchStats",
    "batch_stats",
    "build_frame",
    "empty_frame",
    "summary_attrs",
]

COLUMNS = (
    "content",
    "status",
    "error",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "ttft",
    "latency",
    "cost",
    "attempts",
    "cached",
    "request_hash",
    "model",
)
_STRING = ("content", "status", "error", "finish_reason", "request_hash", "model")
_INT = ("prompt_tokens", "completion_tokens", "total_tokens", "attempts")
_FLOAT = ("ttft", "latency", "cost")
#: ``DataFrame.attrs`` key of the run's summary (what :func:`batch_stats` reads).
ATTRS_KEY = "nbchat_batch"


def build_frame(
    index: pd.Index,
    keys: Sequence[str | None],
    skip: Sequence[str | None],
    results: Mapping[str, Result],
    model: str,
    schema: OutputSchema | None,
    validated: Mapping[str, tuple[dict[str, Any] | None, str | None]] | None = None,
) -> pd.DataFrame:
    """The result frame: one row per position of ``keys`` (None: skipped, reason in ``skip``).

    ``validated`` maps a key to ``schema.validate(content)``; missing keys are validated here.
    """
    import pandas as pd

    checked: dict[str, tuple[dict[str, Any] | None, str | None]] = dict(validated or {})
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    schema_cols = schema.columns(frozenset(COLUMNS)) if schema is not None else []
    values: dict[str, list[Any]] = {c.name: [] for c in schema_cols}
    for i, key in enumerate(keys):
        r = results.get(key) if key is not None else None
        parsed: dict[str, Any] | None = None
        if r is None:
            status = "skipped" if key is None else "cancelled"
            row: dict[str, Any] = {
                "content": None,
                "status": status,
                "error": skip[i] if key is None else "not sent",
                "finish_reason": None,
                "prompt_tokens": None,
                "completion_tokens": None,
                "total_tokens": None,
                "ttft": None,
                "latency": None,
                "cost": None,
                "attempts": 0,
                "cached": False,
                "request_hash": key,
                "model": None,
            }
        else:
            status, error = r.status, r.error
            if schema is not None and status == "complete":
                assert key is not None
                if key not in checked:
                    checked[key] = schema.validate(r.content or "")
                parsed, problem = checked[key]
                if problem is not None:
                    status, error = "invalid", problem
            row = {
                "content": r.content,
                "status": status,
                "error": error,
                "finish_reason": r.finish_reason,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "total_tokens": r.total_tokens,
                "ttft": r.ttft,
                "latency": r.latency,
                "cost": r.cost,
                "attempts": r.attempts,
                "cached": r.cached,
                "request_hash": key,
                "model": r.model or _base(model),
            }
        for c in COLUMNS:
            cols[c].append(row[c])
        for sc in schema_cols:
            values[sc.name].append(None if parsed is None else parsed.get(sc.prop))
    data: dict[str, Any] = {}
    for c in COLUMNS:
        data[c] = _typed(cols[c], _dtype(c))
    for sc in schema_cols:
        data[sc.name] = _typed(values[sc.name], sc.dtype)
    return pd.DataFrame(data, index=index)


def empty_frame(schema: OutputSchema | None, index: pd.Index | None = None) -> pd.DataFrame:
    """The result's columns and dtypes with no rows (Dask's ``meta``)."""
    import pandas as pd

    idx = index if index is not None else pd.RangeIndex(0)
    return build_frame(idx[:0], [], [], {}, "", schema)


def _base(model: str) -> str:
    return model.partition("?")[0]


def _dtype(col: str) -> str:
    if col in _INT:
        return "Int64"
    if col in _FLOAT:
        return "float64"
    if col == "cached":
        return "bool"
    return "string"


def _typed(values: list[Any], dtype: str) -> Any:
    import numpy as np
    import pandas as pd

    try:
        if dtype == "float64":
            return np.array([math.nan if v is None else float(v) for v in values], dtype=float)
        if dtype == "bool":
            return np.array(values, dtype=bool)
        if dtype == "object":
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out
        return pd.array(values, dtype=dtype)  # type: ignore[call-overload]
    except (TypeError, ValueError):  # a value the schema's type did not promise
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out


def summary_attrs(stats: RunStats, schema: OutputSchema | None) -> dict[str, Any]:
    """The small summary kept in ``frame.attrs[ATTRS_KEY]``."""
    seconds = stats.elapsed
    return {
        "seconds": seconds,
        "requests": stats.requests,
        "retries": stats.retries,
        "rate_limited": stats.rate_limited,
        "errors_by_kind": dict(stats.errors),
        "interrupted": stats.interrupted,
        "lowest_concurrency": stats.lowest_concurrency,
        "sent_completion_tokens": stats.completion_tokens,
        "schema": None if schema is None else schema.name,
        "schema_json": None if schema is None else schema.json_schema,
    }


@dataclass(frozen=True)
class BatchStats:
    """What a batch run did, from its result frame (see :func:`batch_stats`)."""

    rows: int
    statuses: dict[str, int]
    cached: int
    requests: int
    retries: int
    rate_limited: int
    seconds: float | None
    rows_per_second: float | None
    tokens_per_second: float | None
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    validation_failure_rate: float | None = None
    lowest_concurrency: int | None = None
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        def rate(x: float | None, unit: str) -> str:
            return "unknown" if x is None else f"{x:,.1f} {unit}"

        lines = [
            f"rows                 {self.rows:,}  "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(self.statuses.items())),
            f"cached               {self.cached:,}",
            f"requests             {self.requests:,} ({self.retries:,} retries, "
            f"{self.rate_limited:,} answered 429)",
            "time                 "
            + ("unknown" if self.seconds is None else f"{self.seconds:.2f} s"),
            f"rows/s               {rate(self.rows_per_second, 'rows/s')}",
            f"tokens/s             {rate(self.tokens_per_second, 'tok/s')} (completion, sent rows)",
            f"tokens               prompt {self.prompt_tokens:,}, completion "
            f"{self.completion_tokens:,}, total {self.total_tokens:,}",
            f"errors by kind       {self.errors_by_kind or 'none'}",
            "validation failures  "
            + (
                "n/a"
                if self.validation_failure_rate is None
                else f"{self.validation_failure_rate:.1%}"
            ),
        ]
        if self.lowest_concurrency is not None:
            lines.append(f"lowest concurrency   {self.lowest_concurrency}")
        if self.interrupted:
            lines.append("interrupted          yes")
        return "BatchStats(\n  " + "\n  ".join(lines) + "\n)"


def batch_stats(out: pd.DataFrame) -> BatchStats:
    """Rows/s, tokens/s, errors by kind, retries and the validation failure rate of a run.

    ``out`` is what :func:`nbchat.batch` returned. Timing and retry counts come from the
    run's summary in ``out.attrs``; a frame that lost it (after a join, say) still gives
    the counts its columns hold, with the rates unknown.
    """
    import pandas as pd

    if not isinstance(out, pd.DataFrame) or "status" not in out.columns:
        raise TypeError("batch_stats() takes the DataFrame nbchat.batch() returned")
    meta = out.attrs.get(ATTRS_KEY) or {}
    statuses = {str(k): int(v) for k, v in out["status"].value_counts().items()}
    cached = int(out["cached"].sum()) if "cached" in out else 0
    fresh = out[~out["cached"].astype(bool)] if "cached" in out else out

    def total(col: str, frame: pd.DataFrame = out) -> int:
        return int(frame[col].sum(skipna=True)) if col in frame else 0

    seconds = meta.get("seconds")
    sent_rows = len(fresh)
    completion_fresh = total("completion_tokens", fresh)
    complete = statuses.get("complete", 0)
    invalid = statuses.get("invalid", 0)
    errors = meta.get("errors_by_kind")
    if errors is None:
        failed = out[~out["status"].isin(["complete", "skipped"])]
        errors = {str(k): int(v) for k, v in failed["status"].value_counts().items()}
    if invalid:
        errors = {**errors, "invalid": invalid}
    requests = meta.get("requests")
    if requests is None:
        requests = total("attempts")
    retries = meta.get("retries")
    if retries is None:
        attempts: list[Any] = fresh["attempts"].dropna().tolist() if "attempts" in fresh else []
        retries = int(sum(max(0, int(a) - 1) for a in attempts))
    return BatchStats(
        rows=len(out),
        statuses=statuses,
        cached=cached,
        requests=int(requests),
        retries=int(retries),
        rate_limited=int(meta.get("rate_limited", 0)),
        seconds=seconds,
        rows_per_second=(len(out) / seconds) if seconds else None,
        tokens_per_second=(
            meta.get("sent_completion_tokens", completion_fresh) / seconds
            if seconds and sent_rows
            else None
        ),
        prompt_tokens=total("prompt_tokens"),
        completion_tokens=total("completion_tokens"),
        total_tokens=total("total_tokens"),
        errors_by_kind=dict(errors),
        validation_failure_rate=(
            invalid / (complete + invalid)
            if (meta.get("schema") or invalid) and complete + invalid
            else None
        ),
        lowest_concurrency=meta.get("lowest_concurrency"),
        interrupted=bool(meta.get("interrupted", False)),
    )
