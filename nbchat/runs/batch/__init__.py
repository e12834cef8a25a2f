"""Batch completions over a DataFrame: ``nbchat.batch``, ``nbchat.batch_stats``,
``nbchat.read_batch_results``.

Modules, each owning one thing:

* ``prompts``: ``prompt=`` over the rows -> messages; ``schema``: structured output;
* ``plan``: client, model and each row's request and fingerprint;
* ``limits``: rpm/tpm windows and AIMD concurrency; ``engine``: the threads and retries;
* ``cache``: SQLite (WAL) keyed by fingerprint; ``progress``: widget or tqdm;
* ``results``: the result frame and ``batch_stats``; ``run``: one run, start to end;
* ``dask``: the same per partition of a Dask DataFrame; ``files``: OpenAI Batch JSONL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nbchat.runs.batch.results import BatchStats, batch_stats
from nbchat.runs.batch.run import DEFAULT_MAX_RETRIES, run_batch

if TYPE_CHECKING:
    from nbchat.client import Client

__all__ = ["BatchStats", "batch", "batch_stats", "read_batch_results"]


def batch(
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
    schema: Any = None,
    on_error: Literal["record", "raise"] = "record",
    progress: bool = True,
    dry_run: bool = False,
    to_file: str | Path | None = None,
    store: bool = False,
    **params: Any,
) -> Any:
    """One completion per row of ``data``, concurrently, within rate limits, resumable.

    Parameters
    ----------
    data:
        A pandas DataFrame, a Series, a list of strings (column ``text``), or a Dask
        DataFrame (then a Dask DataFrame is returned: each partition runs on a worker).
    prompt:
        A format string over the row's columns (``"Summarise:\\n\\n{text}"``), a callable
        ``row -> str | list[message] | None`` (``row`` is a dict), or the name of a column
        holding message lists. A row whose prompt is missing is ``skipped``.
    model:
        The model; None: the server's only model (the demo model on the demo server).
    client:
        A :class:`~nbchat.Client`; default: Spellbook when ``$SPELLBOOK_API_KEY`` is set,
        else the embedded demo server (for ``to_file=``: OpenAI / the demo's OpenAI API).
    system:
        A system prompt put before every row's messages.
    concurrency:
        Requests in flight at most (a 429 lowers it for a while, then it recovers).
    rpm, tpm:
        Requests and estimated tokens (prompt estimate + ``max_tokens``, or the mean
        completion so far) per minute, held over every 60 s window. With Dask, the limits
        and ``concurrency`` are totals shared out among the workers.
    max_retries:
        Retries per row for 429, 408/409, 5xx and connection errors, before any output.
    cache:
        An SQLite file (a folder with Dask): every finished reply is committed as it
        arrives; a re-run sends only the rows not in it (``cached=True``). No key is stored.
    schema:
        A pydantic model or a JSON Schema dict: replies are validated and each top-level
        field becomes a typed column; a reply that fails is ``invalid``.
    on_error:
        ``"record"`` (the row's status says what went wrong) or ``"raise"`` (the first
        failed row stops the run: the rest are cancelled, and the row's exception is
        raised with the finished rows as ``exc.batch_result``).
    progress:
        A live widget in a notebook, a text bar in a terminal; False for silence.
    dry_run:
        Send nothing: return each row's messages, a token estimate and its request hash.
    to_file:
        Send nothing: write the OpenAI Batch input file (JSONL, ``custom_id`` = request
        hash) and return the dry-run frame (pass it to ``read_batch_results(like=...)``).
    store:
        Also write every finished row to the conversation store (``nbchat.logs()``): one
        stored conversation per run, each row an exchange of its own. Off by default.
    **params:
        Generation parameters (``temperature``, ``max_tokens``, ``stop``, ``top_p``,
        ``top_k``, ``extra``).

    Returns
    -------
    pandas.DataFrame
        Same index as ``data``; columns ``content``, ``status``, ``error``,
        ``finish_reason``, ``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
        ``ttft``, ``latency``, ``attempts``, ``cached``, ``request_hash``, ``model`` and the
        schema's fields (see ``nbchat.runs.batch.results``).

    Interrupting (the notebook's stop button, Ctrl+C) closes the requests in flight within a
    second and *returns* the frame: finished rows kept (and cached), the rest ``cancelled``;
    ``batch_stats(out).interrupted`` is True. A second interrupt raises at once.
    """
    from nbchat.runs.batch.dask import is_dask_frame

    options: dict[str, Any] = {
        "client": client,
        "system": system,
        "concurrency": concurrency,
        "rpm": rpm,
        "tpm": tpm,
        "max_retries": max_retries,
        "cache": cache,
        "schema": schema,
        "on_error": on_error,
        "progress": progress,
        "dry_run": dry_run,
        "to_file": to_file,
        "params": params,
        "store": store,
    }
    if is_dask_frame(data):
        from nbchat.runs.batch.dask import batch_dask

        return batch_dask(data, prompt, model, **options)
    return run_batch(data, prompt, model, **options)


def read_batch_results(path: Any, like: Any = None) -> Any:
    """Join OpenAI Batch output lines back into ``batch()``'s columns (see ``files``)."""
    from nbchat.runs.batch.files import read_batch_results as read

    return read(path, like)
