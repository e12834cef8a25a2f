"""nbchat.batch end to end against a real embedded server: every status, the columns and
their dtypes, the index, retries (counted at the server), 429s and AIMD, on_error, dry runs."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import nbchat
from nbchat import ConfigError, RateLimitError
from nbchat.runs.batch.results import COLUMNS
from nbchat.server import Server

from .conftest import QUESTIONS, chat_requests


def test_one_complete_row_per_input_row_same_index_and_dtypes(
    server: Server, egp: nbchat.Client, frame: pd.DataFrame
) -> None:
    out = nbchat.batch(frame, "{text}", model="demo", client=egp, progress=False)
    assert list(out.columns) == list(COLUMNS)
    assert out.index.equals(frame.index)
    assert (out["status"] == "complete").all()
    assert str(out["prompt_tokens"].dtype) == "Int64" and str(out["attempts"].dtype) == "Int64"
    assert out["cached"].dtype == bool and not out["cached"].any()
    assert (out["total_tokens"] == out["prompt_tokens"] + out["completion_tokens"]).all()
    assert (out["attempts"] == 1).all()
    assert out["ttft"].notna().all() and (out["latency"] >= out["ttft"]).all()
    assert out["request_hash"].str.len().eq(64).all() and out["request_hash"].is_unique
    assert len(chat_requests(server)) == len(frame)
    # the same answers a single client call gives
    reply = egp.complete([{"role": "user", "content": QUESTIONS[0]}], "demo")
    assert out.loc["q0", "content"] == reply.content


def test_every_status(server: Server, egp: nbchat.Client) -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        answer: str

    df = pd.DataFrame(
        {
            "model": [
                "echo",  # complete: valid JSON
                "echo",  # invalid: not JSON
                "echo?fault=drop&after=2",  # incomplete: cut after two tokens
                "echo?fault=401",  # error: not retried
                None,  # skipped
            ],
            "text": ['{"answer": "yes"}', "not json at all", "a b c d e f g h", "x", "y"],
        }
    )

    def prompt(row: dict[str, object]) -> object:
        return None if pd.isna(row["model"]) else row["text"]

    # one model per row: run each row on its own model through a callable client choice
    outs = []
    for i, row in df.iterrows():
        model = "echo" if pd.isna(row["model"]) else row["model"]
        outs.append(
            nbchat.batch(
                df.loc[[i]], prompt, model=model, client=egp, schema=Answer, progress=False
            )
        )
    out = pd.concat(outs)
    assert list(out["status"]) == ["complete", "invalid", "incomplete", "error", "skipped"]
    assert out.loc[0, "answer"] == "yes"
    assert pd.isna(out.loc[1, "answer"]) and "not JSON" in out.loc[1, "error"]
    assert out.loc[2, "content"] and out.loc[2, "content"] != "a b c d e f g h"
    assert out.loc[3, "error"] and "API key" in out.loc[3, "error"]
    assert out.loc[3, "attempts"] == 1  # a 401 is not retried
    # unknown counts are missing, never 0
    assert out.loc[3, ["prompt_tokens", "completion_tokens", "total_tokens"]].isna().all()
    assert out.loc[4, ["prompt_tokens", "attempts"]].tolist()[0] is pd.NA
    assert out.loc[4, "attempts"] == 0 and "returned None" in out.loc[4, "error"]
    stats = nbchat.batch_stats(outs[3])
    assert stats.errors_by_kind == {"AuthenticationError": 1}


def test_transient_failures_are_retried_and_counted(server: Server, egp: nbchat.Client) -> None:
    out = nbchat.batch(
        ["What is a token?"], "{text}", model="demo?fault=500&times=2", client=egp,
        progress=False,
    )  # fmt: skip
    assert out.loc[0, "status"] == "complete"
    assert out.loc[0, "attempts"] == 3
    assert server.stats()["requests"] == 3
    stats = nbchat.batch_stats(out)
    assert stats.retries == 2 and stats.requests == 3


def test_retries_run_out_into_an_error(server: Server, egp: nbchat.Client) -> None:
    out = nbchat.batch(
        ["x"], "{text}", model="demo?fault=502", client=egp, max_retries=1, progress=False
    )
    assert out.loc[0, "status"] == "error" and out.loc[0, "attempts"] == 2
    assert "502" in out.loc[0, "error"]


def test_a_429_honours_retry_after_and_lowers_concurrency(
    server: Server, egp: nbchat.Client
) -> None:
    texts = [f"What is a token? ({i})" for i in range(12)]
    t0 = time.monotonic()
    out = nbchat.batch(
        texts, "{text}", model="demo?fault=429&times=3&retry_after=1", client=egp,
        concurrency=8, progress=False,
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    assert (out["status"] == "complete").all()
    assert elapsed >= 1.0  # Retry-After: 1 was waited
    stats = nbchat.batch_stats(out)
    assert stats.rate_limited == 3 and stats.retries == 3
    assert stats.lowest_concurrency is not None and stats.lowest_concurrency <= 6
    assert int(out["attempts"].sum()) == 12 + 3 == server.stats()["requests"]


def test_on_error_raise_stops_at_the_first_failure(server: Server, egp: nbchat.Client) -> None:
    texts = [f"q{i}" for i in range(30)]
    with pytest.raises(RateLimitError) as info:
        nbchat.batch(
            texts, "{text}", model="demo?fault=429&tps=20", client=egp, max_retries=0,
            concurrency=2, on_error="raise", progress=False,
        )  # fmt: skip
    partial = info.value.batch_result  # type: ignore[attr-defined]
    assert len(partial) == 30
    assert set(partial["status"]) <= {"error", "cancelled"}
    assert (partial["status"] == "cancelled").sum() >= 20
    assert any("on_error='raise'" in n for n in info.value.__notes__)


def test_dry_run_sends_nothing(server: Server, egp: nbchat.Client, frame: pd.DataFrame) -> None:
    plan = nbchat.batch(
        frame, "{text}", model="demo", client=egp, system="Be brief.", dry_run=True,
        max_tokens=50,
    )  # fmt: skip
    assert server.stats()["requests"] == 0
    assert plan.index.equals(frame.index)
    assert plan.loc["q0", "messages"][0] == {"role": "system", "content": "Be brief."}
    assert (plan["prompt_tokens_est"] > 0).all() and (plan["max_tokens"] == 50).all()
    out = nbchat.batch(
        frame, "{text}", model="demo", client=egp, system="Be brief.", max_tokens=50,
        progress=False,
    )  # fmt: skip
    assert list(out["request_hash"]) == list(plan["request_hash"])


def test_identical_requests_are_sent_once(server: Server, egp: nbchat.Client) -> None:
    out = nbchat.batch(
        ["same", "same", "other"], "{text}", model="echo", client=egp, progress=False
    )
    assert list(out["content"]) == ["same", "same", "other"]
    assert server.stats()["requests"] == 2


def test_model_none_is_the_demo_model_on_the_demo_server() -> None:
    out = nbchat.batch(["What is a token?"], "{text}", progress=False, max_tokens=5)
    assert out.loc[0, "status"] == "complete" and out.loc[0, "completion_tokens"] == 5


def test_model_none_needs_the_servers_only_model(egp: nbchat.Client) -> None:
    # the embedded server lists three models (demo, echo, bench): no single choice
    with pytest.raises(ConfigError, match="model="):
        nbchat.batch(["x"], "{text}", client=egp, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"rpm": -1}, "rpm"),
        ({"max_retries": -1}, "max_retries"),
        ({"on_error": "ignore"}, "on_error"),
        ({"temperature": "hot"}, "temperature"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_options_fail_before_any_request(
    server: Server, egp: nbchat.Client, kwargs: dict[str, object], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle):
        nbchat.batch(["x"], "{text}", model="echo", client=egp, progress=False, **kwargs)  # type: ignore[arg-type]
    assert server.stats()["requests"] == 0


def test_progress_summary_goes_to_stderr(
    egp: nbchat.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    nbchat.batch(["x", "y"], "{text}", model="echo", client=egp)
    err = capsys.readouterr().err
    assert "nbchat.batch: 2 rows" in err and "2 complete" in err
    nbchat.batch(["x", "y"], "{text}", model="echo", client=egp, progress=False)
    assert capsys.readouterr().err == ""
