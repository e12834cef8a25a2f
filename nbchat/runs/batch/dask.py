"""``nbchat.batch`` over a Dask DataFrame: the batch engine once per partition, on the workers.

``batch(ddf, ...)`` returns a Dask DataFrame (``ddf.map_partitions``): nothing runs until it
is computed. Each partition runs :func:`~nbchat.runs.batch.run.run_batch` on a worker with

* **its share of the limits**: ``concurrency``, ``rpm`` and ``tpm`` are totals for the run,
  divided by the number of workers of the active ``distributed`` client (1 without one: the
  local schedulers run every partition in this process). The partitions of one worker
  process share one :class:`~nbchat.runs.batch.limits.Limits` for the run, so partitions run
  one after another on a worker cannot exceed its share within a window either;
* **the cache as a folder**: partition *i* commits to ``<cache>/part-<i>.sqlite`` and reads
  every ``*.sqlite`` file of the folder, so a re-run with other partitions still finds every
  finished reply;
* **the client rebuilt** from its settings: an API key is never sent to the workers (it
  cannot be pickled). A key that came from ``$SPELLBOOK_API_KEY`` / ``$OPENAI_API_KEY`` is
  read again there from the same variable, which the workers need set; a key passed as
  ``api_key=`` is refused with a ConfigError that says so.

Progress is off in the partitions (the Dask dashboard shows the tasks). An interrupt of
``compute()`` is Dask's to handle: partitions already running on the workers go on to the
end and cache their replies, so a re-run resumes. Needs the optional extra ``nbchat[dask]``
(``dask[dataframe]``, ``distributed``).
"""

from __future__ import annotations

import collections
import math
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbchat._exceptions import ConfigError
from nbchat.runs.batch.limits import WINDOW_S, Limits

if TYPE_CHECKING:
    import pandas as pd

    from nbchat.client import Client

__all__ = ["ClientSpec", "batch_dask", "is_dask_frame", "partition_cache"]

#: How many runs' shared limits a worker process keeps.
_KEEP = 16
_limits: collections.OrderedDict[str, Limits] = collections.OrderedDict()
_limits_lock = threading.Lock()


def is_dask_frame(data: Any) -> bool:
    if not type(data).__module__.startswith("dask"):
        return False
    try:
        import dask.dataframe as dd
    except ImportError:
        return False
    return isinstance(data, dd.DataFrame)


@dataclass(frozen=True)
class ClientSpec:
    """A client's settings without its key: what travels to the workers."""

    api: str
    base_url: str
    timeout: tuple[float, float]
    max_retries: int
    auth_header: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, client: Client) -> ClientSpec:
        key_var = client.backend.api_key_env
        if client.has_key and client._key.get() != os.environ.get(key_var):
            raise ConfigError(
                "a client whose key was passed as api_key= cannot run on Dask workers: the key "
                f"is never sent over the network. Set ${key_var} where the workers run and "
                "build the client without api_key="
            )
        return cls(
            client.api,
            client.base_url,
            client.timeout,
            client.max_retries,
            client.auth_header,
            dict(client.options),
            dict(client.extra_headers),
        )

    def build(self) -> Client:
        from nbchat.client import Client

        return Client(
            base_url=self.base_url,
            api=self.api,
            timeout=self.timeout,
            max_retries=self.max_retries,
            auth_header=self.auth_header,
            include_usage=bool(self.options.get("include_usage", True)),
            max_tokens_field=self.options.get("max_tokens_field"),
            headers=dict(self.headers),
        )


def _workers() -> int:
    """Worker processes of the active distributed client, else 1."""
    try:
        from distributed import get_client
    except ImportError:
        return 1
    try:
        client = get_client()
    except ValueError:  # no client: a local scheduler, in this process
        return 1
    return max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))


def shared_limits(
    token: str, concurrency: int, rpm: float | None, tpm: float | None, window: float
) -> Limits:
    """The limits of run ``token`` in this process (made on first use)."""
    with _limits_lock:
        limits = _limits.get(token)
        if limits is None:
            limits = _limits[token] = Limits(concurrency, rpm, tpm, window=window)
            while len(_limits) > _KEEP:
                _limits.popitem(last=False)
        return limits


def partition_cache(folder: str | Path, number: int) -> tuple[Path, list[Path]]:
    """(the file partition ``number`` writes, every cache file of the folder)."""
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"with a Dask DataFrame cache= is a folder; {root} is a file")
    return root / f"part-{number:05d}.sqlite", sorted(root.glob("*.sqlite"))


def _partition(
    part: pd.DataFrame,
    prompt: str | Callable[[dict[str, Any]], Any],
    model: str,
    spec: ClientSpec,
    options: dict[str, Any],
    token: str,
    shares: tuple[int, float | None, float | None, float],
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    from nbchat.runs.batch.run import run_batch

    number = int((partition_info or {}).get("number") or 0)
    options = dict(options)
    cache = options.pop("cache")
    also: list[Path] = []
    if cache is not None and not options.get("dry_run"):
        cache, also = partition_cache(cache, number)
    limits = shared_limits(token, *shares)
    client = spec.build()
    try:
        return run_batch(
            part,
            prompt,
            model,
            client=client,
            cache=cache,
            cache_also=also,
            limits=limits,
            progress=False,
            **options,
        )
    finally:
        client.close()


def batch_dask(
    ddf: Any,
    prompt: str | Callable[[dict[str, Any]], Any],
    model: str | None,
    *,
    client: Client | None,
    system: str | None,
    concurrency: int,
    rpm: float | None,
    tpm: float | None,
    max_retries: int,
    cache: str | Path | None,
    schema: Any,
    on_error: str,
    progress: bool,
    dry_run: bool,
    to_file: str | Path | None,
    params: dict[str, Any],
    window: float = WINDOW_S,
    store: bool = False,
) -> Any:
    """``batch()`` for a Dask DataFrame (see the module docstring)."""
    from nbchat.runs.batch.plan import resolve_client, resolve_model
    from nbchat.runs.batch.run import check_options, run_batch

    check_options(concurrency, rpm, tpm, max_retries, on_error)
    if to_file is not None:
        raise ConfigError(
            "to_file= needs the rows in one place: use batch(ddf.compute(), ..., to_file=...)"
        )
    resolved, is_demo = resolve_client(client)
    model = resolve_model(model, resolved, is_demo)
    spec = ClientSpec.of(resolved)
    n = _workers()
    shares = (
        max(1, math.ceil(concurrency / n)),
        None if rpm is None else rpm / n,
        None if tpm is None else tpm / n,
        window,
    )
    options = {
        "system": system,
        "max_retries": max_retries,
        "cache": None if cache is None else str(cache),
        "schema": schema,
        "on_error": on_error,
        "dry_run": dry_run,
        "params": dict(params),
        "store": store,
    }
    if cache is not None and not dry_run:
        Path(cache).mkdir(parents=True, exist_ok=True)
    # The meta: the same function over the empty frame (no row, so no request).
    meta = run_batch(
        ddf._meta, prompt, model, client=spec.build(), progress=False,
        **{**options, "cache": None, "dry_run": dry_run},
    )  # fmt: skip
    token = uuid.uuid4().hex
    return ddf.map_partitions(
        _partition,
        prompt,
        model,
        spec,
        options,
        token,
        shares,
        meta=meta,
        align_dataframes=False,
    )
