"""One batch run over a pandas DataFrame: plan, cache look-up, the engine, the result frame.

:func:`nbchat.batch` calls :func:`run_batch`; so does each partition of a Dask run
(``nbchat.runs.batch.dask``), with its share of the limits. Internal options (``window``,
``stream``, ``limits``) are keyword arguments here, not in the public signature.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nbchat._exceptions import ConfigError
from nbchat.runs.batch.engine import Result, RunStats, run_jobs
from nbchat.runs.batch.limits import WINDOW_S, Limits
from nbchat.runs.batch.plan import Plan, make_plan
from nbchat.runs.batch.progress import make_progress
from nbchat.runs.batch.results import ATTRS_KEY, build_frame, summary_attrs

if TYPE_CHECKING:
    import pandas as pd

    from nbchat.client import Client
    from nbchat.runs.batch.engine import Job

__all__ = ["DEFAULT_MAX_RETRIES", "check_options", "dry_run_frame", "run_batch", "run_plan"]

#: Retries per row (429, 5xx, connection errors, before any output). Higher than the
#: client's 2: a batch of thousands of rows meets the rare failure often.
DEFAULT_MAX_RETRIES = 5


def check_options(
    concurrency: int,
    rpm: float | None,
    tpm: float | None,
    max_retries: int,
    on_error: str,
) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number >= 1, not {concurrency!r}")
    for name, value in (("rpm", rpm), ("tpm", tpm)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
        ):
            raise ConfigError(f"{name} must be a positive number, not {value!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"max_retries must be a whole number >= 0, not {max_retries!r}")
    if on_error not in ("record", "raise"):
        raise ConfigError(f"on_error must be 'record' or 'raise', not {on_error!r}")


def run_batch(
    data: Any,
    prompt: str | Callable[[dict[str, Any]], Any],
    model: str | None = None,
    *,
    client: Client | None = None,
    system: str | None = None,
    concurrency: int = 16,
    rpm: float | None = None,
    tpm: float | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    cache: str | Path | None = None,
    cache_also: Iterable[str | Path] = (),
    schema: Any = None,
    on_error: Literal["record", "raise"] = "record",
    progress: bool = True,
    dry_run: bool = False,
    to_file: str | Path | None = None,
    params: dict[str, Any] | None = None,
    window: float = WINDOW_S,
    stream: bool = True,
    limits: Limits | None = None,
    store: bool = False,
) -> pd.DataFrame:
    check_options(concurrency, rpm, tpm, max_retries, on_error)
    api = "openai" if to_file is not None else "egp"
    if to_file is not None and client is not None and client.api != "openai":
        raise ConfigError(
            "to_file= writes OpenAI Batch requests: use an OpenAI-compatible client "
            "(nbchat.Client(api='openai', ...))"
        )
    plan = make_plan(
        data, prompt, model, client, system, schema, params or {}, api=api, stream=stream
    )
    if to_file is not None:
        from nbchat.runs.batch.files import write_requests

        write_requests(plan, to_file)
        return dry_run_frame(plan)
    if dry_run:
        return dry_run_frame(plan)
    if limits is None:
        limits = Limits(concurrency, rpm, tpm, window=window)
    return run_plan(
        plan,
        limits,
        max_retries=max_retries,
        cache=cache,
        cache_also=cache_also,
        on_error=on_error,
        progress=progress,
        store_rows=store,
    )


def run_plan(
    plan: Plan,
    limits: Limits,
    *,
    max_retries: int,
    cache: str | Path | None,
    cache_also: Iterable[str | Path] = (),
    on_error: str = "record",
    progress: bool = True,
    store_rows: bool = False,
) -> pd.DataFrame:
    from nbchat.runs.batch.cache import Cache
    from nbchat.runs.batch.storing import RowStore

    stats = RunStats(rows=len(plan.keys))
    stats.skipped = sum(1 for k in plan.keys if k is None)
    stats.done = stats.skipped
    if stats.skipped:
        stats.statuses["skipped"] += stats.skipped
    jobs = plan.jobs()
    results: dict[str, Result] = {}
    store = Cache(cache, cache_also) if cache is not None else None
    validated: dict[str, tuple[dict[str, Any] | None, str | None]] = {}
    try:
        if store is not None:
            hits = store.get_many([j.key for j in jobs])
            for job in jobs:
                hit = hits.get(job.key)
                if hit is not None:
                    results[job.key] = Result.from_cache(hit)
                    stats.cached += len(job.rows)
                    stats.done += len(job.rows)
                    stats.statuses["complete"] += len(job.rows)
            jobs = [j for j in jobs if j.key not in results]

        rows_store = RowStore(plan) if store_rows else None

        def on_result(job: Job, result: Result) -> BaseException | None:
            if rows_store is not None:
                rows_store.write(job, result)
            if on_error != "raise":
                return None
            if result.status in ("error", "incomplete"):
                exc = result.exception
                if exc is None:
                    exc = RuntimeError(result.error or result.status)
                _note(exc, plan, job)
                return exc
            if plan.schema is not None and result.status == "complete":
                checked = validated[job.key] = plan.schema.validate(result.content or "")
                if checked[1] is not None:
                    exc = ValueError(f"the reply does not match schema=: {checked[1]}")
                    _note(exc, plan, job)
                    return exc
            return None

        display = make_progress(progress, stats.rows)
        fresh: dict[str, Result] = {}
        try:
            run_jobs(
                plan.client,
                jobs,
                limits,
                max_retries=max_retries,
                stats=stats,
                cache=store,
                on_result=on_result,
                tick=display.update,
                results=fresh,
            )
        except BaseException as exc:
            if on_error == "raise" and hasattr(exc, "add_note"):
                # The finished rows travel with the error (they are cached too).
                partial = _frame(plan, {**results, **fresh}, validated, stats)
                with contextlib.suppress(AttributeError):
                    exc.batch_result = partial  # type: ignore[attr-defined]
            display.close(stats)
            raise
        results.update(fresh)
        display.close(stats)
    finally:
        if store is not None:
            store.close()
    return _frame(plan, results, validated, stats)


def _note(exc: BaseException, plan: Plan, job: Job) -> None:
    label = plan.frame.index[job.rows[0]]
    exc.add_note(f"nbchat.batch: row {label!r} failed; on_error='raise' stopped the run")


def _frame(
    plan: Plan,
    results: dict[str, Result],
    validated: dict[str, tuple[dict[str, Any] | None, str | None]],
    stats: RunStats,
) -> pd.DataFrame:
    frame = build_frame(
        plan.frame.index, plan.keys, plan.skip, results, plan.model, plan.schema, validated
    )
    frame.attrs[ATTRS_KEY] = summary_attrs(stats, plan.schema)
    return frame


def dry_run_frame(plan: Plan) -> pd.DataFrame:
    """The prompts a run would send and a token estimate, without sending anything.

    Columns: ``messages`` (the list sent), ``prompt_tokens_est`` (about 4 characters per
    token), ``max_tokens`` (the completion cap, ``<NA>`` when unset), ``request_hash``,
    ``model``, ``error`` (why a row would be skipped).
    """
    import numpy as np
    import pandas as pd

    n = len(plan.keys)
    messages = np.empty(n, dtype=object)
    messages[:] = plan.messages
    frame = pd.DataFrame(
        {
            "messages": messages,
            "prompt_tokens_est": pd.array(plan.prompt_estimates, dtype="Int64"),
            "max_tokens": pd.array([plan.max_tokens] * n, dtype="Int64"),
            "request_hash": pd.array(plan.keys, dtype="string"),
            "model": pd.array([plan.model] * n, dtype="string"),
            "error": pd.array(plan.skip, dtype="string"),
        },
        index=plan.frame.index,
    )
    frame.attrs[ATTRS_KEY] = {
        "dry_run": True,
        "unique_requests": len({k for k in plan.keys if k is not None}),
        "schema": None if plan.schema is None else plan.schema.name,
        "schema_json": None if plan.schema is None else plan.schema.json_schema,
    }
    return frame
