"""Each finished turn of a Compare column is written to the store (issue 14): one stored
conversation per column, chained prompt -> reply -> prompt, with nothing from the other columns."""

from __future__ import annotations

from typing import Any

import nbchat


def test_compare_columns_are_stored_one_conversation_each(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", api_key="sk-CANARY-compare-9")
    cmp = nbchat.Compare(["echo?tps=0", ("demo?tps=0", {"max_tokens": 20})], client=client)
    try:
        for text in ("first prompt", "second prompt"):
            cmp.send(text).wait(60)
    finally:
        cmp.close()
    logs = nbchat.logs()
    assert set(logs["role"]) == {"user", "assistant"}
    by_conv = {cid: part for cid, part in logs.groupby("conversation_id", sort=False)}
    assert len(by_conv) == 2  # one per column
    for part in by_conv.values():
        assert part["role"].tolist() == ["user", "assistant", "user", "assistant"]
        assert part["content"].tolist()[0::2] == ["first prompt", "second prompt"]
        ids, parents = part["message_id"].tolist(), part["parent_id"].tolist()
        assert parents[1:] == ids[:-1]  # prompt -> reply -> prompt -> reply
        assert len(set(part["model"].dropna())) == 1  # one column's model only
    echo = next(p for p in by_conv.values() if p["model"].iloc[1].startswith("echo"))
    assert echo["content"].tolist()[1::2] == ["first prompt", "second prompt"]
    store_bytes = b"".join(
        p.read_bytes() for p in nbchat.data.store.get_store().path.parent.glob("*") if p.is_file()
    )
    assert b"sk-CANARY-compare-9" not in store_bytes
