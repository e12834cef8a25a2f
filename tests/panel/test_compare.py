"""Compare without a browser: columns and labels, concurrent turns, one flusher, votes, results."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pandas as pd
import pytest

import nbchat
from nbchat._exceptions import ConfigError, NbchatError
from nbchat.panel.compare import Compare
from nbchat.panel.compare_vocabulary import INTENT_TYPES, KERNEL_MESSAGE_TYPES
from nbchat.panel.runner import BusyError
from nbchat.runs.columns import parse_columns
from nbchat.runs.compare import RESULT_COLUMNS, leaderboard

CANARY = "sk-canary-cmp-5c2e"


class Recording(Compare):
    """Records what the widget sends to the front end."""

    def send_msg(self, content: dict[str, Any]) -> None:
        self.__dict__.setdefault("sent", []).append(content)


def _client(server: Any) -> nbchat.Client:
    return nbchat.Client(base_url=server.url + "/egp/v1", api_key=CANARY)


def _cmp(server: Any, columns: list[Any], retries: int = 2, **kw: Any) -> Recording:
    client = nbchat.Client(base_url=server.url + "/egp/v1", api_key=CANARY, max_retries=retries)
    return Recording(columns, client=client, **kw)


def _intent(w: Compare, **msg: Any) -> dict[str, Any]:
    msg.setdefault("id", f"i{time.monotonic_ns()}")
    w._handle_msg({"content": {"data": {"method": "custom", "content": msg}}, "buffers": []})
    sent: list[dict[str, Any]] = w.sent
    return next(m for m in sent if m.get("id") == msg["id"])


def _deltas(w: Compare) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = w.sent
    return [m for m in sent if m["type"] == "deltas"]


# ---- columns and labels --------------------------------------------------------------------


def test_labels_name_the_model_and_the_params_that_differ(live_server: Any) -> None:
    c = _client(live_server)
    other = nbchat.Client(base_url=live_server.url.replace("127.0.0.1", "localhost") + "/egp/v1")
    cols = parse_columns(
        [
            "demo",
            ("demo", {"max_tokens": 30}),
            ("echo", {"temperature": 0.5, "max_tokens": 30}),
            (other, "demo", {}),
            "demo",
        ],
        c,
        {"temperature": 0.5},
    )
    labels = [col.label for col in cols]
    assert labels[0] == f"demo @ {c.display_url}"
    assert labels[1] == "demo · max_tokens=30"
    assert labels[2] == "echo · max_tokens=30"  # temperature is the same everywhere
    assert labels[3] == f"demo @ {other.display_url}"
    assert labels[4] == f"demo @ {c.display_url} #2"
    assert all(col.params["temperature"] == 0.5 for col in cols)
    assert cols[3].client is other and cols[0].client is c


@pytest.mark.parametrize(
    "columns, match",
    [
        ([], "at least one column"),
        ("demo", "must be a list"),
        ([42], "a column is a model name"),
        ([("demo", {"temprature": 1})], "unknown parameter"),
        ([("demo", {"max_tokens": 0})], "max_tokens must be >= 1"),
    ],
)
def test_bad_columns_are_refused_by_name(live_server: Any, columns: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _cmp(live_server, columns)


# ---- streaming ------------------------------------------------------------------------------


def test_three_columns_stream_at_once_through_one_flusher(live_server: Any) -> None:
    w = _cmp(live_server, ["demo?tps=300", ("demo?tps=300", {"max_tokens": 40}), "echo?tps=300"])
    replies = w.send("How does streaming work? " * 12).wait(30)
    assert w.status == "idle" and w.streaming == [{}, {}, {}]
    assert [r.status for r in replies.values()] == ["complete"] * 3
    assert replies["demo?tps=300 · max_tokens=40"].finish_reason == "length"
    batches = _deltas(w)
    # one message carries several columns' text: the flusher is the widget's, not a column's
    assert any(len({i["slot"] for i in b["items"]}) == 3 for b in batches)
    (rnd,) = w.rounds
    for slot, msg in enumerate(rnd["replies"]):
        items = [i for b in batches for i in b["items"] if i["slot"] == slot]
        assert [i["seq"] for i in items] == list(range(1, len(items) + 1))
        assert {i["request_id"] for i in items} == {msg["request_id"]}
        assert "".join(i["text"] for i in items) == msg["content"]
    # every update batches all columns: fewer messages than the columns' deltas together
    assert len(batches) < sum(len(b["items"]) for b in batches)


def test_each_column_keeps_its_own_conversation(live_server: Any) -> None:
    seen: dict[str, list[list[dict[str, Any]]]] = {"a": [], "b": []}
    clients = {}
    for name in seen:
        client = _client(live_server)
        stream = client.stream

        def recording(messages: Any, *a: Any, _n: str = name, _s: Any = stream, **k: Any) -> Any:
            seen[_n].append([dict(m) for m in messages])
            return _s(messages, *a, **k)

        client.stream = recording  # type: ignore[method-assign]
        clients[name] = client
    w = Recording([(clients["a"], "echo", {}), (clients["b"], "demo", {})], system="Be brief.")
    first = w.send("alpha one").wait(10)
    w.send("beta two").wait(10)
    a2, b2 = seen["a"][1], seen["b"][1]
    assert [m["role"] for m in a2] == ["system", "user", "assistant", "user"]
    assert a2[2]["content"] == first["echo"].content == "alpha one"
    assert b2[2]["content"] == first["demo"].content != "alpha one"
    assert all(m["content"] != first["demo"].content for m in a2)  # B's reply never goes to A
    assert all(m["content"] != first["echo"].content for m in b2[1:] if m["role"] != "user")


def test_a_failing_column_shows_its_error_and_the_others_finish(live_server: Any) -> None:
    w = _cmp(live_server, ["demo", "demo?fault=500", "echo?fault=error-event&after=2"])
    replies = w.send("What is a token?").wait(30)
    ok, failed, cut = replies.values()
    assert ok.status == "complete" and ok.content
    assert failed.status == "error" and "500" in (failed.error or "")
    assert cut.status in ("error", "incomplete") and cut.error
    res = w.results()
    assert list(res["status"]) == ["complete", "error", res["status"][2]]
    assert res["status"][2] in ("error", "interrupted")
    assert res["completion_tokens"].dtype == "Int64"
    assert pd.isna(res["completion_tokens"][1])  # NA, never 0
    assert res["error"][1].startswith("500")


def test_stop_stops_every_column_and_keeps_partial_text(live_server: Any) -> None:
    w = _cmp(live_server, ["demo?tps=20", "echo?tps=20", ("demo?tps=20", {"max_tokens": 500})])
    rnd = w.send("Tell me how streaming works, at length. " * 4)
    deadline = time.monotonic() + 10
    while not all(t.snapshot()[1] for t in rnd.turns.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _intent(w, type="stop")["type"] == "ack"
    replies = rnd.wait(5)
    assert [r.status for r in replies.values()] == ["cancelled"] * 3
    assert all(r.content for r in replies.values())
    assert list(w.results()["status"]) == ["stopped"] * 3
    assert w.status == "idle"


def test_send_while_streaming_is_refused(live_server: Any) -> None:
    w = _cmp(live_server, ["demo?tps=20", "echo?tps=20"])
    w.send("hello there")
    with pytest.raises(BusyError):
        w.send("again")
    assert "still streaming" in _intent(w, type="send", text="again")["message"]
    w.stop()


def test_retry_asks_one_column_again(live_server: Any) -> None:
    w = _cmp(live_server, ["demo", "echo?fault=500&times=1"], retries=0)
    first = w.send("retry me").wait(10)
    assert first["echo?fault=500&times=1"].status == "error"
    before = [r["model"] for r in live_server.requests]
    assert _intent(w, type="retry", slot=1)["type"] == "ack"
    again = w._runner.latest.wait(10)  # type: ignore[union-attr]
    after = [r["model"] for r in live_server.requests][len(before) :]
    assert after == ["echo?fault=500&times=1"]  # only that column was asked, once
    assert again["echo?fault=500&times=1"].content == "retry me"
    assert again["demo"] == first["demo"]
    res = w.results()
    assert len(res) == 2 and list(res["status"]) == ["complete", "complete"]
    # the failed reply is gone from that column's conversation
    assert [m["role"] for m in w._runner.histories[1]] == ["user", "assistant"]


# ---- blind mode -----------------------------------------------------------------------------


def test_blind_mode_hides_models_until_the_vote(live_server: Any) -> None:
    w = _cmp(live_server, ["demo", "echo", ("demo", {"max_tokens": 5})], blind=True)
    w._runner.rng = random.Random(7)
    w.send("Which one is best?").wait(10)
    assert [s["label"] for s in w.slots] == ["A", "B", "C"]
    assert all(s["hidden"] and not (s["name"] or s["model"] or s["params"]) for s in w.slots)
    replies = w.rounds[0]["replies"]
    assert all(r["model"] is None and r["params"] == {} and r["api"] is None for r in replies)
    # nothing synced tells the columns apart but their text
    state = json.dumps([w.slots, [{**r, "content": ""} for r in replies], w.streaming])
    assert "echo" not in state and "max_tokens" not in state and "demo" not in state
    order = w._runner.latest.order  # type: ignore[union-attr]
    best = order.index(1)  # the slot showing echo
    assert _intent(w, type="vote", kind="best", slot=best)["type"] == "ack"
    assert not any(s["hidden"] for s in w.slots)
    assert w.slots[best]["name"] == "echo" and w.rounds[0]["vote"] == {"kind": "best", "slot": best}
    assert w.rounds[0]["replies"][best]["model"] == "echo"
    res = w.results().set_index("column")
    assert res.loc["echo", "vote"] == "win" and res.loc["echo", "shown_as"] == "ABC"[best]
    assert list(res["vote"]).count("loss") == 2
    board = w.leaderboard().set_index("column")
    assert board.loc["echo", "wins"] == 1 and board.loc["echo", "win_rate"] == 1.0
    assert board.loc["demo", "losses"] == 1 and board.loc["demo", "votes"] == 1


def test_blind_order_is_shuffled_per_prompt_and_only_the_latest_prompt_shows(
    live_server: Any,
) -> None:
    w = _cmp(live_server, ["echo", "demo", ("echo", {"max_tokens": 3})], blind=True)
    w._runner.rng = random.Random(3)
    orders = set()
    for i in range(6):
        w.send(f"prompt {i}").wait(10)
        orders.add(tuple(w._runner.latest.order))  # type: ignore[union-attr]
        w.vote("tie" if i % 2 else "bad")
        assert len(w.rounds) == 1 and w.rounds[0]["prompt"] == f"prompt {i}"
    assert len(orders) > 1
    board = w.leaderboard()
    assert list(board["votes"]) == [6, 6, 6]
    assert list(board["ties"]) == [3, 3, 3] and list(board["bad"]) == [3, 3, 3]
    assert list(board["losses"]) == [3, 3, 3] and list(board["wins"]) == [0, 0, 0]


def test_vote_needs_finished_replies_and_a_known_choice(live_server: Any) -> None:
    w = _cmp(live_server, ["demo?tps=20", "echo"])
    with pytest.raises(NbchatError, match="no prompt"):
        w.vote("tie")
    w.send("slow one")
    assert "finished" in _intent(w, type="vote", kind="tie", slot=-1)["message"]
    w.stop()
    assert "one of" in _intent(w, type="vote", kind="meh", slot=-1)["message"]
    with pytest.raises(NbchatError, match="no column"):
        w.vote("gpt-9")
    w.vote("echo")
    assert list(w.results()["vote"]) == ["loss", "win"]


# ---- the front end's vocabulary and secrets -------------------------------------------------


def test_intents_are_answered_and_snapshots_carry_every_streaming_column(
    live_server: Any,
) -> None:
    w = _cmp(live_server, ["demo?tps=30", "echo?tps=30"])
    assert set(INTENT_TYPES) == {"send", "stop", "retry", "vote", "snapshot-request"}
    assert set(KERNEL_MESSAGE_TYPES) == {"deltas", "snapshot", "ack", "error"}
    assert _intent(w, type="bogus")["type"] == "error"
    text = "Tell me about tokens please. " * 10
    assert _intent(w, type="send", text=text)["type"] == "ack"
    rnd = w._runner.latest
    assert rnd is not None
    deadline = time.monotonic() + 10
    while not all(t.snapshot()[1] for t in rnd.turns.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    snap = _intent(w, type="snapshot-request")
    assert snap["type"] == "snapshot" and {i["slot"] for i in snap["items"]} == {0, 1}
    w.stop()
    assert _intent(w, type="snapshot-request")["items"] == []


def test_the_key_never_reaches_state_repr_or_results(live_server: Any) -> None:
    w = _cmp(live_server, ["demo", "echo?fault=401"])
    w.send("hi").wait(10)
    w.vote("tie")
    blob = json.dumps(w.get_state(), default=str) + repr(w) + w.results().to_json()
    blob += json.dumps(w.sent, default=str)
    assert CANARY not in blob


# ---- headless ------------------------------------------------------------------------------


def test_headless_compare_returns_the_same_columns(live_server: Any) -> None:
    client = _client(live_server)
    prompts = ["What is a token?", "hello"]
    res = nbchat.compare(prompts, ["demo", ("demo", {"max_tokens": 7}), "echo"], client=client)
    assert tuple(res.columns) == RESULT_COLUMNS
    assert len(res) == 6
    assert list(res["column"]) == ["demo", "demo · max_tokens=7", "echo"] * 2
    assert list(res["prompt"]) == [prompts[0]] * 3 + [prompts[1]] * 3
    assert res["prompt_id"].nunique() == 2
    assert (res["status"] == "complete").all()
    assert res.loc[2, "content"] == prompts[0]  # echo: no history between prompts
    assert res.loc[1, "finish_reason"] == "length" and res.loc[1, "completion_tokens"] == 7
    assert res["tokens_per_second"].notna().all()
    assert res["vote"].isna().all() and res["shown_as"].isna().all()
    w = _cmp(live_server, ["demo"])
    w.send("hello").wait(10)
    assert list(w.results().dtypes) == list(res.dtypes)
    assert leaderboard(res)["votes"].tolist() == [0, 0, 0]


def test_headless_compare_records_a_failing_column(live_server: Any) -> None:
    client = _client(live_server)
    res = nbchat.compare("hi", ["echo", "demo?fault=404"], client=client, max_retries=0)
    assert list(res["status"]) == ["complete", "error"]
    assert "404" in str(res["error"][1]) and res["prompt_tokens"].isna()[1]


def test_a_column_whose_request_cannot_be_built_fails_alone(live_server: Any) -> None:
    broken = _client(live_server)

    def refuse(*a: Any, **k: Any) -> Any:
        raise nbchat.BudgetExceeded("this column's budget is spent")

    broken.stream = refuse  # type: ignore[method-assign]
    w = _cmp(live_server, ["echo", (broken, "demo", {})])
    replies = w.send("still here").wait(10)
    assert replies["echo"].status == "complete" and replies["echo"].content == "still here"
    assert replies["demo"].status == "error" and "budget" in (replies["demo"].error or "")
    assert w.status == "idle" and w.rounds[0]["replies"][1]["status"] == "error"
    assert list(w.results()["status"]) == ["complete", "error"]


def test_older_prompts_go_into_immutable_pages(live_server: Any) -> None:
    from nbchat.panel.pages import PAGE_SIZE

    w = _cmp(live_server, ["echo", ("echo", {"max_tokens": 2})])
    for i in range(PAGE_SIZE + 3):
        w.send(f"prompt {i}").wait(10)
    (page,) = w.pages
    assert len(page.messages) == PAGE_SIZE and len(w.recent) == 3
    assert [r["prompt"] for r in w.rounds] == [f"prompt {i}" for i in range(PAGE_SIZE + 3)]
    assert all(r["id"] == r["prompt_id"] for r in w.rounds)
    w.send("one more").wait(10)
    assert w.pages[0] is page  # a commit re-sends `recent`, never an old page
    assert len(w.results()) == 2 * (PAGE_SIZE + 4)


def test_headless_compare_stops_on_interrupt_and_keeps_what_finished(live_server: Any) -> None:
    """The notebook's stop button (SIGINT in the main thread) winds every column down."""
    import signal
    import threading

    client = _client(live_server)
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()
    timer = threading.Timer(1.5, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    try:
        res = nbchat.compare(
            ["hi", "What is a token? " * 30],
            ["echo?tps=100", "echo?tps=5"],
            client=client,
            concurrency=1,
        )
    finally:
        timer.cancel()
    by = {(r["prompt"][:2], r["column"]): r["status"] for r in res.to_dict("records")}
    assert by[("hi", "echo?tps=100")] == "complete"
    assert by[("Wh", "echo?tps=5")] == "stopped"  # ~100 tokens at 5/s: not waited for


def test_a_reloading_page_gets_the_replies_in_progress_unasked(live_server: Any) -> None:
    w = _cmp(live_server, ["demo?tps=30", "echo?tps=30"])
    rnd = w.send("Tell me about tokens please. " * 10)
    deadline = time.monotonic() + 10
    while not all(t.snapshot()[1] for t in rnd.turns.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    w._handle_msg({"content": {"data": {"method": "request_state"}}, "buffers": []})
    snap = [m for m in w.sent if m["type"] == "snapshot" and m["id"] is None]
    assert snap and {i["slot"] for i in snap[-1]["items"]} == {0, 1}
    assert all(i["content"] for i in snap[-1]["items"])
    w.stop()
