"""The store: where it is, what a row holds, the off switch, several writing processes, and
``logs()`` / ``conversations()`` over it."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import nbchat
from nbchat.data import logs as logs_mod
from nbchat.data import store as store_mod
from nbchat.data.frames import HISTORY_COLUMNS
from nbchat.records import Message, Reply, Usage


def exchange(text: str, reply: str = "ok", model: str = "m1", **kw: Any) -> list[dict[str, Any]]:
    user = Message.user(text, model=model, api="egp", params={"temperature": 0.5}).to_dict()
    answer = Message.from_reply(
        Reply(
            reply, usage=Usage(3, 4, 7), model=model, finish_reason="stop", ttft=0.1, latency=0.5
        ),
        message_id=nbchat.records.new_id(),
        request_id="r1",
        created_at=nbchat.records.now_iso(),
        model=model,
        params={"temperature": 0.5},
    ).to_dict()
    return [{**user, **kw}, {**answer, **kw}]


def test_the_default_path_is_the_user_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("NBCHAT_STORE")
    path = store_mod.store_path()
    assert path == Path(platformdirs.user_data_dir("nbchat")) / "store.db"
    assert not path.is_relative_to(Path.cwd())


def test_nbchat_store_moves_it(_private_store: Path) -> None:
    assert store_mod.store_path() == _private_store
    store_mod.write_turn(exchange("hi"))
    assert _private_store.exists()


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false"])
def test_off_switch(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NBCHAT_STORE", value)
    assert store_mod.store_path() is None
    assert store_mod.write_turn(exchange("hi")) is None  # writing quietly does nothing
    with pytest.raises(nbchat.NbchatError, match="store is off"):
        nbchat.logs()
    with pytest.raises(nbchat.NbchatError, match="store is off"):
        nbchat.conversations()


def test_a_row_holds_every_field(_private_store: Path) -> None:
    msgs = exchange("What is 2+2?", reply="4")
    cid = store_mod.write_turn(msgs, name="maths", source="panel")
    assert cid is not None
    stored, leaf = store_mod.get_store().load(cid)
    assert leaf == msgs[1]["id"]
    assert [m["id"] for m in stored] == [m["id"] for m in msgs]
    # the reply's parent is the user message (chained), everything else as written
    assert stored[1]["parent_id"] == msgs[0]["id"]
    for written, read in zip(msgs, stored, strict=True):
        for key, value in written.items():
            if key != "parent_id":
                assert read[key] == value, key
    db = sqlite3.connect(_private_store)
    (name,) = db.execute("SELECT name FROM conversations WHERE id = ?", (cid,)).fetchone()
    assert name == "maths"
    assert os.stat(_private_store).st_mode & 0o077 == 0  # private to the user


def test_a_name_is_one_conversation() -> None:
    a = store_mod.write_turn(exchange("one"), name="lesson")
    b = store_mod.write_turn(exchange("two"), name="lesson")
    c = store_mod.write_turn(exchange("three"))
    assert a == b != c
    convs = nbchat.conversations()
    assert list(convs.columns[:5]) == [
        "conversation_id",
        "conversation",
        "turns",
        "messages",
        "tokens",
    ]
    row = convs.set_index("conversation_id").loc[a]
    assert (row["conversation"], row["turns"], row["messages"], row["tokens"]) == (
        "lesson",
        2,
        4,
        14,
    )
    assert len(convs) == 2


def test_logs_columns_and_filters() -> None:
    store_mod.write_turn(exchange("alpha question", model="m1"), name="a")
    store_mod.write_turn(exchange("beta question", model="m2"), name="b")
    store_mod.write_turn(exchange("gamma", model="m2"), name="b")
    frame = nbchat.logs()
    assert list(frame.columns) == [*HISTORY_COLUMNS, "conversation_id", "conversation"]
    assert len(frame) == 6
    assert frame["turn"].tolist() == [1, 1, 1, 1, 2, 2]  # per conversation
    assert len(nbchat.logs(model="m2")) == 4
    assert nbchat.logs(conversation="b")["conversation"].unique().tolist() == ["b"]
    assert nbchat.logs(text="BETA")["content"].tolist() == ["beta question"]
    assert len(nbchat.logs(since="7 days")) == 6
    assert len(nbchat.logs(until="1 hour ago")) == 0
    assert len(nbchat.logs(since=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))) == 0
    usage = nbchat.usage(nbchat.logs(model="m1"))
    assert usage["total_tokens"].tolist() == [7]
    spec = json.dumps(nbchat.plot_usage(nbchat.logs()).to_dict())  # the chart takes it too
    assert spec.count('"total_tokens": 7') >= 3  # the three replies are in its data


def test_parse_time() -> None:
    now = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    assert logs_mod.parse_time("7 days", now=now) == "2026-01-03T00:00:00.000+00:00"
    assert logs_mod.parse_time("3 hours ago", now=now) == "2026-01-09T21:00:00.000+00:00"
    assert logs_mod.parse_time("2026-01-05") == "2026-01-05T00:00:00.000+00:00"
    with pytest.raises(ValueError, match="time unit"):
        logs_mod.parse_time("3 fortnights")
    with pytest.raises(ValueError, match="cannot read"):
        logs_mod.parse_time("yesterday-ish")


def _writer(path: str, worker: int, turns: int) -> None:
    os.environ["NBCHAT_STORE"] = path
    for i in range(turns):
        store_mod.write_turn(exchange(f"w{worker} t{i}"), name=f"shared-{i % 3}")


def test_several_processes_writing_at_once_lose_nothing(_private_store: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers, turns = 4, 40
    procs = [
        ctx.Process(target=_writer, args=(str(_private_store), w, turns)) for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    frame = nbchat.logs()
    assert len(frame) == workers * turns * 2
    users = set(frame.loc[frame["role"] == "user", "content"])
    assert users == {f"w{w} t{i}" for w in range(workers) for i in range(turns)}
    # three names, three conversations, whoever created them first
    assert sorted(nbchat.conversations()["conversation"]) == ["shared-0", "shared-1", "shared-2"]
    db = sqlite3.connect(_private_store)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_logs_has_the_columns_and_dtypes_of_history() -> None:
    import pandas as pd

    from nbchat.data.frames import history

    msgs = exchange("one") + exchange("two", model="m2")
    for i in range(30):  # enough rows for the columns with few distinct values to be encoded
        msgs += exchange(f"q{i}", model=("m1", "m2", None)[i % 3])
    msgs[5]["finish_reason"] = None
    msgs[1]["usage"] = {"prompt": 3, "completion": 4, "total": 7, "cached": 2}
    msgs[1]["cost"] = 0.5
    msgs[1]["params"] = {"temperature": 0.5, "stop": ["x"], "system": "Be brief."}
    cid = store_mod.write_turn(msgs, name="same")
    stored, _ = store_mod.get_store().load(cid or "")
    assert stored[1]["usage"] == msgs[1]["usage"] and stored[1]["cost"] == 0.5
    frame = nbchat.logs().drop(columns=["conversation_id", "conversation"])
    pd.testing.assert_frame_equal(frame, history(stored))


def test_logs_reads_what_was_written_since_and_notices_rewrites() -> None:
    """logs() keeps what it read and reads only newer rows; a rewrite or another process's
    write is seen, and the filtered answers equal SQLite's."""
    first = exchange("alpha")
    cid = store_mod.write_turn(first, name="c1")
    assert nbchat.logs()["content"].tolist() == ["alpha", "ok"]
    store_mod.write_turn(exchange("beta", model="m2"), name="c2")
    assert nbchat.logs()["content"].tolist() == ["alpha", "ok", "beta", "ok"]
    # a rewrite of a stored message (same id, new rowid): read again
    store_mod.get_store().write(cid or "", [{**first[1], "content": "ok, edited"}], source="x")
    assert nbchat.logs()["content"].tolist() == ["alpha", "ok, edited", "beta", "ok"]
    # another connection (as another process would) adds a row
    other = store_mod.Store(os.environ["NBCHAT_STORE"])
    other.write(nbchat.records.new_id(), exchange("w9 t0"), source="x")
    other.close()
    assert nbchat.logs(text="W9")["content"].tolist() == ["w9 t0"]
    # cached and SQL-filtered answers agree
    import pandas as pd

    warm, warm_part = nbchat.logs(), nbchat.logs(model="m2", since="1 hour")
    logs_mod._snapshots.clear()
    cold_part = nbchat.logs(model="m2", since="1 hour")  # filtered by SQLite
    pd.testing.assert_frame_equal(warm, nbchat.logs())  # read again from scratch
    # (values equal; dtypes are inferred from the values, and a part may be narrower)
    pd.testing.assert_frame_equal(warm_part, cold_part, check_dtype=False)
    assert warm_part["turn"].tolist() == [1, 1]


def test_the_notebook_path_is_stored_when_known(
    monkeypatch: pytest.MonkeyPatch, _private_store: Path
) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/lessons/lesson-1.ipynb")
    assert store_mod.notebook_path() == "/home/me/lessons/lesson-1.ipynb"
    cid = store_mod.write_turn(exchange("hi"), name="nb")
    db = sqlite3.connect(_private_store)
    rows = db.execute("SELECT DISTINCT notebook FROM messages WHERE conversation_id = ?", (cid,))
    assert rows.fetchall() == [("/home/me/lessons/lesson-1.ipynb",)]
    assert nbchat.conversations()["notebook"].tolist() == ["/home/me/lessons/lesson-1.ipynb"]
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert store_mod.notebook_path() is None  # unknown: None, never a guess
