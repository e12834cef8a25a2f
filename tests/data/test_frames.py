"""history() and usage(): columns, dtypes, and values against what the embedded server reported."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import pytest

import nbchat
from nbchat import ChatPanel, Client, Reply, Usage
from nbchat.data.frames import HISTORY_COLUMNS, USAGE_COLUMNS, history, usage
from nbchat.records import Message, new_id, now_iso

QUESTIONS = ["What is a token?", "And what does temperature do?", "My name is Ada. Thanks!"]


@pytest.fixture
def conversation(live_server: Any) -> tuple[ChatPanel, list[Reply]]:
    client = Client(base_url=live_server.url + "/egp/v1", api_key=None)
    panel = ChatPanel(client=client, model="demo", system="Be brief.", temperature=0.3)
    replies = [panel.send(q).wait(30) for q in QUESTIONS]
    yield panel, replies
    panel.close()


def test_exported_lazily() -> None:
    assert nbchat.history is history
    assert nbchat.usage is usage
    assert {"history", "usage", "plot_usage"} <= set(nbchat.__all__)


def test_history_columns_and_dtypes(conversation: tuple[ChatPanel, list[Reply]]) -> None:
    panel, _ = conversation
    df = history(panel)
    assert tuple(df.columns) == HISTORY_COLUMNS
    assert not any("key" in c for c in df.columns)
    for col in ("turn", "prompt_tokens", "completion_tokens", "total_tokens", "max_tokens"):
        assert df[col].dtype == "Int64", col
    for col in ("ttft", "latency", "tokens_per_second", "temperature"):
        assert df[col].dtype == "float64", col
    assert isinstance(df["created_at"].dtype, pd.DatetimeTZDtype)
    assert str(df["created_at"].dt.tz) == "UTC"
    assert df["created_at"].notna().all()
    assert len(df) == 2 * len(QUESTIONS)
    assert df["turn"].tolist() == [1, 1, 2, 2, 3, 3]
    assert df["role"].tolist() == ["user", "assistant"] * 3
    assert df["content"].tolist()[::2] == QUESTIONS
    assert (df["temperature"] == 0.3).all()
    assert (df["system"] == "Be brief.").all()
    assert (df["model"] == "demo").all()
    assert (df["api"] == "egp").all()
    assert (df["status"] == "complete").all()
    assert df["max_tokens"].isna().all()  # not set: unknown, never 0


def test_history_matches_server_usage(
    conversation: tuple[ChatPanel, list[Reply]], live_server: Any
) -> None:
    panel, replies = conversation
    df = panel.history()
    assistant = df[df["role"] == "assistant"].reset_index(drop=True)
    for i, reply in enumerate(replies):
        assert reply.usage is not None
        row = assistant.iloc[i]
        assert row["prompt_tokens"] == reply.usage.prompt
        assert row["completion_tokens"] == reply.usage.completion
        assert row["total_tokens"] == reply.usage.total
        assert row["content"] == reply.content
        assert row["finish_reason"] == reply.finish_reason == "stop"
        assert row["ttft"] == pytest.approx(reply.ttft)
        assert row["latency"] == pytest.approx(reply.latency)
        assert row["latency"] >= row["ttft"] > 0
    # the demo model counts prompt tokens like a chat API: the same count, independently
    from nbchat.server.demo_model import count_prompt_tokens

    sent: list[dict[str, str]] = [{"role": "system", "content": "Be brief."}]
    for q, reply in zip(QUESTIONS, replies, strict=True):
        sent.append({"role": "user", "content": q})
        assert reply.usage is not None
        assert reply.usage.prompt == count_prompt_tokens(sent)
        sent.append({"role": "assistant", "content": reply.content})
    # user rows carry no usage: missing, not zero
    users = df[df["role"] == "user"]
    assert users["prompt_tokens"].isna().all()
    assert users["ttft"].isna().all()


def test_prompt_grows_turn_by_turn(conversation: tuple[ChatPanel, list[Reply]]) -> None:
    panel, replies = conversation
    u = panel.usage()
    prompts = u["prompt_tokens"].tolist()
    assert prompts == sorted(prompts) and len(set(prompts)) == len(prompts)
    # each prompt holds the previous one plus the previous reply and the new question
    for prev, cur in itertools.pairwise(replies):
        assert prev.usage is not None and cur.usage is not None
        assert cur.usage.prompt is not None and prev.usage.total is not None
        assert cur.usage.prompt > prev.usage.total


def test_usage_frame(conversation: tuple[ChatPanel, list[Reply]]) -> None:
    panel, replies = conversation
    u = usage(panel)
    assert tuple(u.columns) == USAGE_COLUMNS
    for col in USAGE_COLUMNS:
        if col in ("cost", "cumulative_cost"):  # USD: NaN when unknown (no price for the demo)
            assert u[col].dtype == "float64" and u[col].isna().all(), col
        elif col not in ("model", "status"):
            assert u[col].dtype == "Int64", col
    assert u["turn"].tolist() == [1, 2, 3]
    totals = [r.usage.total for r in replies if r.usage]
    assert u["total_tokens"].tolist() == totals
    running = 0
    for i, t in enumerate(totals):
        running += t or 0
        assert u["cumulative_total"][i] == running
    assert u["cumulative_prompt"].iloc[-1] == sum(r.usage.prompt or 0 for r in replies if r.usage)
    assert u["cumulative_completion"].iloc[-1] == u["completion_tokens"].sum()
    assert (u["status"] == "complete").all()
    # a history DataFrame and a usage DataFrame are accepted too
    pd.testing.assert_frame_equal(usage(history(panel)), u)
    pd.testing.assert_frame_equal(usage(u), u)


def test_plain_dicts() -> None:
    msgs = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "bye"},
    ]
    df = history(msgs)
    assert tuple(df.columns) == HISTORY_COLUMNS
    assert df["turn"].tolist() == [1, 1, 1, 2]
    assert df["content"].tolist() == [m["content"] for m in msgs]
    for col in ("prompt_tokens", "completion_tokens", "total_tokens", "max_tokens"):
        assert df[col].isna().all()
        assert df[col].dtype == "Int64"
    assert df["created_at"].isna().all()
    assert isinstance(df["created_at"].dtype, pd.DatetimeTZDtype)
    assert df["status"].isna().all()
    assert df["tokens_per_second"].isna().all()
    u = usage(msgs)
    assert len(u) == 1
    assert u["total_tokens"].isna().all()
    assert u["cumulative_total"].isna().all()  # nothing known yet: NA, not 0


def test_reply_objects_mixed_with_dicts(live_server: Any) -> None:
    client = Client(base_url=live_server.url + "/egp/v1", api_key=None)
    msgs: list[Any] = [{"role": "user", "content": "What is a token?"}]
    first = client.complete(msgs, model="demo")
    msgs.append(first)
    msgs.append({"role": "user", "content": "What is a system prompt?"})
    second = client.complete(
        [m.to_message() if isinstance(m, Reply) else m for m in msgs], model="demo"
    )
    msgs.append(second)
    df = history(msgs)
    assert df["role"].tolist() == ["user", "assistant", "user", "assistant"]
    assert df["turn"].tolist() == [1, 1, 2, 2]
    rows = df[df["role"] == "assistant"]
    for (_, row), reply in zip(rows.iterrows(), (first, second), strict=True):
        assert reply.usage is not None
        assert row["prompt_tokens"] == reply.usage.prompt
        assert row["completion_tokens"] == reply.usage.completion
        assert row["total_tokens"] == reply.usage.total
        assert row["status"] == "complete"
        assert row["api"] == "egp"
        assert row["model"] == "demo"
        assert pd.isna(row["created_at"])  # a Reply carries no timestamp
    u = usage(msgs)
    assert u["cumulative_total"].tolist() == [
        first.usage.total,  # type: ignore[union-attr]
        first.usage.total + second.usage.total,  # type: ignore[union-attr,operator]
    ]


def test_missing_usage_stays_na() -> None:
    msgs: list[Any] = [
        {"role": "user", "content": "a"},
        Reply("x", usage=Usage(10, 5, 15)),
        {"role": "user", "content": "b"},
        Reply("y", usage=None, status="error", error="boom"),
        {"role": "user", "content": "c"},
        Reply("z", usage=Usage(prompt=30, completion=None, total=None)),
        {"role": "user", "content": "d"},
        Reply("w", usage=Usage(prompt=40, completion=8, total=None), status="cancelled"),
    ]
    df = history(msgs)
    a = df[df["role"] == "assistant"].reset_index(drop=True)
    assert a["prompt_tokens"].tolist()[1] is pd.NA
    assert a["completion_tokens"].isna().tolist() == [False, True, True, False]
    assert a["total_tokens"].isna().tolist() == [False, True, True, False]
    assert a["total_tokens"][3] == 48  # both parts known: the total is known
    assert a["status"].tolist() == ["complete", "error", "complete", "stopped"]
    assert a["error"][1] == "boom"
    assert (df["prompt_tokens"].fillna(-1) != 0).all()
    u = usage(msgs)
    assert u["cumulative_prompt"].tolist() == [10, 10, 40, 80]
    assert u["cumulative_total"].tolist() == [15, 15, 15, 63]
    assert u["prompt_tokens"].isna().tolist() == [False, True, False, False]


def test_status_and_params_from_panel_dicts() -> None:
    params = {"temperature": 0.7, "max_tokens": 5, "stop": ["\n\n"], "system": "S"}
    msgs = [Message.user("hi", model="m", api="openai", params=params).to_dict()]
    for status in ("complete", "cancelled", "incomplete", "error"):
        reply = Reply(
            "partial",
            status=status,  # type: ignore[arg-type]
            usage=Usage(3, 2, 5),
            error=None if status == "complete" else "went wrong",
        )
        msgs.append(
            Message.from_reply(
                reply,
                message_id=new_id(),
                request_id=new_id(),
                created_at=now_iso(),
                model="m",
                params=params,
            ).to_dict()
        )
    df = history(msgs)
    assert df["status"].tolist() == ["complete", "complete", "stopped", "interrupted", "error"]
    assert df["max_tokens"].tolist() == [5] * 5
    assert df["temperature"].tolist() == [0.7] * 5
    assert df["stop"][0] == ["\n\n"]
    assert df["system"].tolist() == ["S"] * 5
    assert df["api"][0] == "openai"
    assert df["error"].tolist()[2:] == ["went wrong"] * 3


def test_empty_source() -> None:
    df = history([])
    assert tuple(df.columns) == HISTORY_COLUMNS and len(df) == 0
    assert df["prompt_tokens"].dtype == "Int64"
    u = usage([])
    assert tuple(u.columns) == USAGE_COLUMNS and len(u) == 0


def test_rejects_non_messages() -> None:
    with pytest.raises(TypeError):
        history("hello")
    with pytest.raises(TypeError):
        history([1, 2])


def test_no_pandas_at_import() -> None:
    import subprocess
    import sys

    code = "import sys, nbchat; print('pandas' in sys.modules, 'altair' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_100k_messages_are_all_there() -> None:
    """Correctness at scale; the speed is measured in benchmarks/bench_frames.py."""
    msgs: list[dict[str, Any]] = []
    params = {"temperature": 0.5, "system": None}
    for i in range(50_000):
        msgs.append(Message.user(f"q{i}", model="demo", api="egp", params=params).to_dict())
        msgs.append(
            Message.from_reply(
                Reply(f"a{i}", usage=Usage(10 + i, 20, 30 + i), ttft=0.1, latency=0.5),
                message_id=new_id(),
                request_id=new_id(),
                created_at=now_iso(),
                model="demo",
                params=params,
            ).to_dict()
        )
    df = history(msgs)
    assert len(df) == 100_000
    assert df["turn"].iloc[-1] == 50_000
    assert df["prompt_tokens"].iloc[-1] == 10 + 49_999
    assert df["prompt_tokens"].iloc[-2] is pd.NA
