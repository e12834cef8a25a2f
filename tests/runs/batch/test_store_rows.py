"""``batch(..., store=True)`` writes every finished row to the conversation store (issue 14):
one stored conversation per run, each row an exchange of its own; cached rows are not written
again; without ``store=True`` nothing is written; never a key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbchat
from nbchat.data.store import get_store

CANARY = "sk-CANARY-batch-store-77"


def _client(server: Any) -> nbchat.Client:
    return nbchat.Client(base_url=server.url + "/egp/v1", api_key=CANARY)


def test_rows_are_stored_only_when_asked(live_server: Any, tmp_path: Path) -> None:
    texts = ["alpha row", "beta row", "gamma row"]
    out = nbchat.batch(texts, "{text}", "echo?tps=0", client=_client(live_server), progress=False)
    assert list(out["status"]) == ["complete"] * 3
    before = nbchat.logs()
    assert not any(t in set(before["content"]) for t in texts)  # store=False: nothing written

    cache = tmp_path / "cache.sqlite"
    out = nbchat.batch(
        texts, "{text}", "echo?tps=0", client=_client(live_server), progress=False,
        store=True, cache=cache, temperature=0,
    )  # fmt: skip
    assert list(out["content"]) == texts
    logs = nbchat.logs()
    rows = logs[logs["content"].isin(texts)]
    assert len(rows) == 6  # each row: its prompt and its reply
    assert rows["conversation_id"].nunique() == 1  # one conversation per run
    users = rows[rows["role"] == "user"]
    replies = rows[rows["role"] == "assistant"]
    assert sorted(users["content"]) == sorted(texts) == sorted(replies["content"])
    assert users["parent_id"].isna().all()  # rows are not a chain
    by_id = dict(zip(users["message_id"], users["content"], strict=True))
    assert all(by_id[p] == c for p, c in zip(replies["parent_id"], replies["content"], strict=True))
    assert set(replies["temperature"]) == {0.0}

    # a re-run served from the cache writes nothing again
    again = nbchat.batch(
        texts, "{text}", "echo?tps=0", client=_client(live_server), progress=False,
        store=True, cache=cache, temperature=0,
    )  # fmt: skip
    assert again["cached"].all()
    assert len(nbchat.logs()) == len(logs)
    store_bytes = b"".join(p.read_bytes() for p in get_store().path.parent.glob("*") if p.is_file())
    assert CANARY.encode() not in store_bytes


def test_failed_rows_are_stored_with_their_error(live_server: Any) -> None:
    out = nbchat.batch(
        ["will fail"], "{text}", "demo?fault=404", client=_client(live_server),
        progress=False, store=True, max_retries=0,
    )  # fmt: skip
    assert out["status"].iloc[0] == "error"
    logs = nbchat.logs()
    reply = logs[(logs["role"] == "assistant") & logs["error"].notna()].iloc[-1]
    assert "404" in reply["error"] and reply["status"] == "error"
