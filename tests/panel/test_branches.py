"""Edit and branch, resume from the store, and what reaches the model (captured on the wire
with a Recorder: the request bodies exactly as sent)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import nbchat
from nbchat.panel import BusyError, ChatPanel
from nbchat.recording import Recorder

CANARY = "sk-canary-branch-5e0c"
HEADER_CANARY = "hdr-canary-93b1"


class Recording(ChatPanel):
    def send_msg(self, content: dict[str, Any]) -> None:
        self.__dict__.setdefault("sent", []).append(content)


def _panel(server: Any, tmp_path: Path, **kw: Any) -> tuple[Recording, Recorder]:
    rec = Recorder(tmp_path / f"cassette-{time.monotonic_ns()}.json")
    client = nbchat.Client(
        base_url=server.url + "/egp/v1",
        api_key=CANARY,
        headers={"X-Team": HEADER_CANARY},
        recorder=rec,
    )
    kw.setdefault("model", "echo")
    return Recording(client=client, **kw), rec


def _sent(rec: Recorder) -> list[str]:
    """The contents of the messages of the last request, as sent."""
    return [m["content"] for m in rec.exchanges[-1]["request"]["messages"]]


def _intent(panel: Recording, **msg: Any) -> dict[str, Any]:
    msg.setdefault("id", f"i{time.monotonic_ns()}")
    panel._handle_msg({"content": {"data": {"method": "custom", "content": msg}}, "buffers": []})
    return next(m for m in panel.sent if m.get("id") == msg["id"])  # type: ignore[attr-defined]


def test_edit_starts_a_branch_and_sends_only_the_active_path(
    live_server: Any, tmp_path: Path
) -> None:
    chat, rec = _panel(live_server, tmp_path)
    chat.send("one").wait(10)
    chat.send("two").wait(10)
    u1, a1, u2, a2 = chat.messages
    assert (a1["parent_id"], u2["parent_id"], a2["parent_id"]) == (u1["id"], a1["id"], u2["id"])

    turn = chat.edit(2, "two, edited")
    reply = turn.wait(10)
    assert reply.content == "two, edited"  # echo: the edited text reached the model
    assert _sent(rec) == ["one", "one", "two, edited"]  # not the old branch
    v1, b1, v2, b2 = chat.messages
    assert (v1["id"], b1["id"]) == (u1["id"], a1["id"])
    assert v2["content"] == "two, edited" and v2["parent_id"] == a1["id"]
    assert v2["branches"] == [u2["id"], v2["id"]]  # "2 / 2" on the edited message
    assert b2["parent_id"] == v2["id"] and b2["branches"] is None

    tree = chat.branches()
    assert list(tree.columns) == [
        "message_id",
        "parent_id",
        "role",
        "content",
        "active",
        "created_at",
    ]
    assert len(tree) == 6
    active = tree.set_index("message_id")["active"]
    assert active[u2["id"]] == active[a2["id"]] == False  # noqa: E712 - kept, not shown
    assert active[v2["id"]] and active[b2["id"]]

    history = chat.history()
    assert history["message_id"].tolist() == [m["id"] for m in chat.messages]
    assert history["parent_id"].tolist()[1:] == [m["id"] for m in chat.messages][:-1]


def test_switch_branch_shows_and_sends_the_other_branch(live_server: Any, tmp_path: Path) -> None:
    chat, rec = _panel(live_server, tmp_path)
    chat.send("one").wait(10)
    chat.send("two").wait(10)
    old = chat.messages[2]
    chat.edit(2, "deux").wait(10)
    chat.switch_branch(old["id"])
    assert [m["content"] for m in chat.messages] == ["one", "one", "two", "two"]
    assert chat.messages[2]["branches"] == [old["id"], chat.branches()["message_id"].iloc[-2]]
    chat.send("three").wait(10)
    assert _sent(rec) == ["one", "one", "two", "two", "three"]
    with pytest.raises(ValueError, match="no message"):
        chat.switch_branch("nope")


def test_edit_checks_its_index(live_server: Any, tmp_path: Path) -> None:
    chat, _ = _panel(live_server, tmp_path)
    chat.send("one").wait(10)
    with pytest.raises(ValueError, match="only user messages"):
        chat.edit(1, "x")
    with pytest.raises(IndexError, match="no message 5"):
        chat.edit(5, "x")
    with pytest.raises(ValueError, match="empty"):
        chat.edit(0, "  ")
    turn = chat.edit(-2, "uno")  # negative indexes count from the end, like a list
    turn.wait(10)
    assert [m["content"] for m in chat.messages] == ["uno", "uno"]


def test_edit_and_switch_intents(live_server: Any, tmp_path: Path) -> None:
    chat, rec = _panel(live_server, tmp_path, model="bench")
    chat.model = "echo"
    chat.send("one").wait(10)
    first = chat.messages[0]
    assert _intent(chat, type="edit", message_id=first["id"], text="uno")["type"] == "ack"
    chat._runner.turn.wait(10)  # type: ignore[union-attr]
    assert [m["content"] for m in chat.messages] == ["uno", "uno"]
    assert _sent(rec) == ["uno"]
    answer = _intent(chat, type="switch-branch", message_id=first["id"])
    assert answer["type"] == "ack"
    assert [m["content"] for m in chat.messages] == ["one", "one"]
    bad = _intent(chat, type="edit", message_id="gone", text="x")
    assert bad["type"] == "error" and "not in the conversation" in bad["message"]


def test_switching_while_streaming_is_refused(live_server: Any, tmp_path: Path) -> None:
    chat, _ = _panel(live_server, tmp_path)
    chat.send("one").wait(10)
    chat.model = "demo"
    slow = nbchat.serve(tokens_per_second=20)
    try:
        chat._client = nbchat.Client(base_url=slow.url + "/egp/v1")
        chat.send("tell me a story")
        with pytest.raises(BusyError):
            chat.switch_branch(chat.messages[0]["id"])
        chat.stop()
    finally:
        slow.stop()


def test_retry_keeps_the_old_reply_as_a_branch(live_server: Any, tmp_path: Path) -> None:
    chat, _ = _panel(live_server, tmp_path)
    chat.send("one").wait(10)
    old = chat.messages[1]
    chat.retry().wait(10)
    new = chat.messages[1]
    assert new["id"] != old["id"] and new["branches"] == [old["id"], new["id"]]
    chat.switch_branch(old["id"])
    assert chat.messages[1]["id"] == old["id"]


def test_a_named_panel_resumes_its_active_branch(live_server: Any, tmp_path: Path) -> None:
    chat, _ = _panel(live_server, tmp_path, name="lesson-1")
    chat.send("one").wait(10)
    chat.send("two").wait(10)
    chat.edit(2, "deux").wait(10)
    shown = chat.messages
    again, _ = _panel(live_server, tmp_path, name="lesson-1")
    assert again.messages == shown  # every field, branch info included
    assert again.conversation_id == chat.conversation_id
    assert len(again.branches()) == 6
    again.switch_branch(shown[2]["branches"][0])  # the old "two"
    third, _ = _panel(live_server, tmp_path, name="lesson-1")
    assert [m["content"] for m in third.messages] == ["one", "one", "two", "two"]
    third.send("three").wait(10)
    convs = nbchat.conversations()
    assert convs["conversation"].tolist() == ["lesson-1"]  # listed once
    assert convs["turns"].tolist() == [4]
    # an unnamed panel is a new conversation of its own
    fresh, _ = _panel(live_server, tmp_path)
    assert fresh.messages == []
    fresh.send("hello").wait(10)
    assert len(nbchat.conversations()) == 2


def test_every_turn_is_in_logs(live_server: Any, tmp_path: Path) -> None:
    chat, _ = _panel(live_server, tmp_path, name="logged")
    chat.send("alpha").wait(10)
    chat.send("beta").wait(10)
    logs = nbchat.logs(conversation="logged")
    assert logs["content"].tolist() == ["alpha", "alpha", "beta", "beta"]
    assert logs["message_id"].tolist() == [m["id"] for m in chat.messages]
    assert set(logs["conversation_id"]) == {chat.conversation_id}
    assert logs["prompt_tokens"].tolist()[1::2] == [
        m["usage"]["prompt"] for m in chat.messages[1::2]
    ]


def test_store_false_and_the_off_switch(
    live_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat, _ = _panel(live_server, tmp_path, store=False, name="private")
    chat.send("not kept").wait(10)
    assert nbchat.logs(text="not kept").empty
    assert nbchat.conversations().empty
    monkeypatch.setenv("NBCHAT_STORE", "off")
    off, _ = _panel(live_server, tmp_path, name="also-private")
    off.send("hello").wait(10)
    off.edit(0, "hi").wait(10)
    assert [m["content"] for m in off.messages] == ["hi", "hi"]  # branches work without it
    with pytest.raises(nbchat.NbchatError, match="store is off"):
        nbchat.logs()


def test_the_key_and_headers_never_reach_the_store(
    live_server: Any, tmp_path: Path, _private_store: Path
) -> None:
    chat, _ = _panel(live_server, tmp_path, name="canary")
    chat.send("hello").wait(10)
    chat.edit(0, "hello again").wait(10)
    bad = nbchat.Client(base_url=live_server.url + "/egp/v1", api_key=CANARY)
    failing = Recording(client=bad, model="demo", name="canary-errors")
    failing.client.base_url = live_server.url + "/nowhere"
    failing.send("fails").wait(10)
    assert failing.messages[-1]["status"] == "error"
    data = b"".join(p.read_bytes() for p in _private_store.parent.glob("store.db*"))
    assert b"hello again" in data  # the store holds the conversation ...
    assert CANARY.encode() not in data  # ... never the key
    assert HEADER_CANARY.encode() not in data  # ... nor a header
    assert CANARY not in nbchat.logs().to_string()


def test_clear_keeps_the_old_messages_as_a_branch(live_server: Any, tmp_path: Path) -> None:
    chat, _ = _panel(live_server, tmp_path, name="cleared")
    chat.send("before").wait(10)
    old = chat.messages[0]["id"]
    chat.clear()
    again, _ = _panel(live_server, tmp_path, name="cleared")
    assert again.messages == []  # resumes empty, as it was left
    again.send("after").wait(10)
    assert again.messages[0]["branches"] == [old, again.messages[0]["id"]]
    again.switch_branch(old)
    assert [m["content"] for m in again.messages] == ["before", "before"]
    chat.undo_clear()  # the first panel's undo brings its view back too
    assert [m["content"] for m in chat.messages] == ["before", "before"]
