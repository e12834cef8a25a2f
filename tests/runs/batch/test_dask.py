"""nbchat.batch over a Dask DataFrame on a real LocalCluster (2 worker processes) against an
embedded server in this process (the workers reach it over 127.0.0.1): the same results as
pandas, limits shared out, resume from the cache folder, no key sent to the workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import distributed
import pandas as pd
import pytest

import nbchat
from nbchat.server import Server, serve

# No importorskip: dask is in the test extra, and its absence must fail the run, not skip it.

COLS = ["content", "status", "finish_reason", "prompt_tokens", "completion_tokens",
        "total_tokens", "request_hash", "model", "cached"]  # fmt: skip


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as c,
        distributed.Client(c) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def dask_server() -> Iterator[Server]:
    with serve(tokens_per_second=0) as running:
        yield running


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"text": [f"What is a token? Question {i}." for i in range(n)]},
        index=pd.Index([f"row{i:03d}" for i in range(n)], name="id"),
    )


def test_same_results_as_pandas_and_resume(
    cluster: Any, dask_server: Server, tmp_path: Path
) -> None:
    client = nbchat.Client(base_url=dask_server.url + "/egp/v1")
    df = _frame(40)
    cache = tmp_path / "cache"
    lazy = nbchat.batch(dd.from_pandas(df.iloc[:20], npartitions=2), "{text}", model="demo",
                        client=client, cache=cache, concurrency=8, rpm=100_000)  # fmt: skip
    assert isinstance(lazy, dd.DataFrame)
    assert dask_server.stats()["requests"] == 0  # lazy: nothing sent yet
    first = lazy.compute()
    assert (first["status"] == "complete").all() and len(first) == 20
    assert sorted(p.name for p in cache.iterdir() if p.suffix == ".sqlite") == [
        "part-00000.sqlite", "part-00001.sqlite"
    ]  # fmt: skip
    assert dask_server.stats()["requests"] == 20
    # all 40 rows, partitioned differently: the first 20 come from the other files
    out = nbchat.batch(dd.from_pandas(df, npartitions=4), "{text}", model="demo",
                       client=client, cache=cache, concurrency=8).compute()  # fmt: skip
    assert dask_server.stats()["requests"] == 40 and not dask_server.stats()["repeated"]
    assert int(out["cached"].sum()) == 20 and out.loc["row000":"row019", "cached"].all()
    expected = nbchat.batch(df, "{text}", model="demo", client=client, progress=False)
    expected["cached"] = out["cached"]
    pd.testing.assert_frame_equal(out[COLS], expected[COLS], check_index_type=False)
    assert list(out.index) == list(df.index)
    client.close()


def test_the_limits_are_divided_among_the_workers(cluster: Any) -> None:
    from nbchat.runs.batch.dask import _workers

    assert _workers() == 2


def test_a_key_passed_in_code_is_not_sent_to_workers(cluster: Any, dask_server: Server) -> None:
    client = nbchat.Client(base_url=dask_server.url + "/egp/v1", api_key="sk-canary-dask")
    with pytest.raises(nbchat.ConfigError, match="never sent"):
        nbchat.batch(dd.from_pandas(_frame(2), npartitions=1), "{text}", model="demo",
                     client=client)  # fmt: skip


def test_schema_and_dry_run_on_dask(cluster: Any, dask_server: Server) -> None:
    from .test_schema import Label

    client = nbchat.Client(base_url=dask_server.url + "/egp/v1")
    ddf = dd.from_pandas(pd.DataFrame({"text": ["I love it", "I hate it"]}), npartitions=2)
    out = nbchat.batch(ddf, "{text}", model="demo", client=client, schema=Label).compute()
    assert list(out["sentiment"]) == ["positive", "negative"]
    plan = nbchat.batch(ddf, "{text}", model="demo", client=client, dry_run=True).compute()
    assert list(plan.columns)[:2] == ["messages", "prompt_tokens_est"]
