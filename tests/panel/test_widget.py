"""ChatPanel without a browser: traits, intents through the dispatcher, snapshots, secrets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import nbchat
from nbchat.panel import BusyError, ChatPanel
from nbchat.panel.vocabulary import INTENT_TYPES, KERNEL_MESSAGE_TYPES

CANARY = "sk-canary-7d41b0"


class Recording(ChatPanel):
    """Records what the panel sends to the front end."""

    def send_msg(self, content: dict[str, Any]) -> None:
        self.__dict__.setdefault("sent", []).append(content)


def _panel(server: Any, model: str = "demo", **kw: Any) -> Recording:
    client = nbchat.Client(base_url=server.url + "/egp/v1", api_key=CANARY)
    return Recording(client=client, model=model, **kw)


def _intent(panel: ChatPanel, **msg: Any) -> dict[str, Any]:
    msg.setdefault("id", f"i{time.monotonic_ns()}")
    # The path a comm message from the front end takes through ipywidgets.
    panel._handle_msg({"content": {"data": {"method": "custom", "content": msg}}, "buffers": []})
    return next(m for m in panel.sent if m.get("id") == msg["id"])  # type: ignore[attr-defined]


def test_send_streams_then_commits_once(live_server: Any) -> None:
    panel = _panel(live_server, system="You are terse.", temperature=0.2)
    reply = panel.send("What is a token?").wait(10)
    assert panel.status == "idle" and panel.streaming == {}
    user, bot = panel.messages
    assert user["role"] == "user" and user["content"] == "What is a token?"
    assert bot["role"] == "assistant" and bot["content"] == reply.content
    assert bot["status"] == "complete" and bot["usage"]["total"] == reply.usage.total  # type: ignore[union-attr]
    assert bot["params"] == {"temperature": 0.2, "system": "You are terse."}
    deltas = [m for m in panel.sent if m["type"] == "delta"]  # type: ignore[attr-defined]
    assert "".join(d["text"] for d in deltas) == reply.content
    assert {d["request_id"] for d in deltas} == {bot["request_id"]}


def test_history_is_sent_every_turn(live_server: Any) -> None:
    panel = _panel(live_server, model="echo")
    panel.send("one").wait(10)
    panel.send("two").wait(10)
    sent = [r for r in live_server.requests if r.get("model") == "echo"]
    assert sent, "the server logs each request"
    prompts = [m["usage"]["prompt"] for m in panel.messages if m["role"] == "assistant"]
    assert prompts[1] > prompts[0]  # the whole history is re-sent: the prompt grows


def test_send_while_streaming_is_refused(live_server: Any) -> None:
    panel = _panel(live_server, model="demo?tps=20")
    turn = panel.send("hello")
    with pytest.raises(BusyError, match="still streaming"):
        panel.send("again")
    answer = _intent(panel, type="send", text="again")
    assert answer["type"] == "error" and "still streaming" in answer["message"]
    panel.stop()
    assert turn.wait(2).status == "cancelled"
    assert panel.messages[-1]["status"] == "stopped"


def test_stop_then_send_never_mixes_replies(live_server: Any) -> None:
    panel = _panel(live_server, model="demo?tps=100")
    first = panel.send("How does streaming work?")
    time.sleep(0.2)
    assert _intent(panel, type="stop")["type"] == "ack"
    stopped = first.wait(2)
    panel.model = "echo"
    second = panel.send("exactly this").wait(10)
    assert second.content == "exactly this"
    assert panel.messages[-1]["content"] == "exactly this"
    assert panel.messages[1]["content"] == stopped.content
    second_deltas = [
        m["text"]
        for m in panel.sent  # type: ignore[attr-defined]
        if m["type"] == "delta" and m["request_id"] == panel.messages[-1]["request_id"]
    ]
    assert "".join(second_deltas) == "exactly this"


def test_snapshot_mid_stream(live_server: Any) -> None:
    panel = _panel(live_server, model="demo?fault=stall-mid&after=4&stall=5")
    turn = panel.send("hi")
    time.sleep(0.5)
    snap = _intent(panel, type="snapshot-request")
    assert snap["type"] == "snapshot" and snap["request_id"] == turn.request_id
    assert snap["seq"] >= 1 and snap["content"]
    panel.stop()
    turn.wait(2)
    assert panel.messages[-1]["content"] == snap["content"]


def test_a_page_loading_the_state_mid_stream_gets_the_text_so_far(live_server: Any) -> None:
    panel = _panel(live_server, model="demo?fault=stall-mid&after=4&stall=5")
    turn = panel.send("hi")
    time.sleep(0.5)
    panel._handle_msg({"content": {"data": {"method": "request_state"}}, "buffers": []})
    snaps = [m for m in panel.sent if m["type"] == "snapshot"]  # type: ignore[attr-defined]
    assert len(snaps) == 1 and snaps[0]["request_id"] == turn.request_id
    assert snaps[0]["content"] and snaps[0]["seq"] >= 1
    panel.stop()
    turn.wait(2)


def test_error_then_retry_keeps_the_conversation(live_server: Any) -> None:
    panel = _panel(live_server, model="echo")
    panel.send("first").wait(10)
    panel.model = "demo?fault=500&times=3"
    panel.send("second").wait(10)
    assert panel.status == "error" and "500" in panel.error
    assert panel.messages[-1]["status"] == "error"
    assert [m["content"] for m in panel.messages[:3]] == ["first", "first", "second"]
    panel.model = "echo"
    assert _intent(panel, type="retry")["type"] == "ack"
    panel._runner.turn.wait(10)  # type: ignore[union-attr]
    assert [m["content"] for m in panel.messages] == ["first", "first", "second", "second"]
    assert panel.status == "idle" and panel.error == ""


def test_settings_and_clear_intents(live_server: Any) -> None:
    panel = _panel(live_server)
    _intent(panel, type="settings", model="echo", system="Be brief.", temperature=0.5, max_tokens=7)
    assert (panel.model, panel.system) == ("echo", "Be brief.")
    assert panel.params == {"temperature": 0.5, "max_tokens": 7}
    _intent(panel, type="settings", max_tokens=None)
    assert panel.params == {"temperature": 0.5}
    panel.send("x").wait(10)
    assert _intent(panel, type="clear")["type"] == "ack"
    assert panel.messages == [] and panel.status == "idle"
    assert _intent(panel, type="nonsense")["type"] == "error"


def test_settings_are_checked_by_the_params_table(live_server: Any) -> None:
    """Form values are coerced and checked by records.PARAMS; a bad one is refused by name."""
    panel = _panel(live_server, top_p=0.5)
    _intent(panel, type="settings", temperature="0.25", max_tokens="12")
    assert panel.params == {"top_p": 0.5, "temperature": 0.25, "max_tokens": 12}
    for bad, name in (
        ((("temperature", "hot")), "temperature"),
        ((("max_tokens", "0")), "max_tokens"),
    ):
        answer = _intent(panel, type="settings", **{bad[0]: bad[1]})
        assert answer["type"] == "error" and name in answer["message"]
    assert panel.params == {"top_p": 0.5, "temperature": 0.25, "max_tokens": 12}
    _intent(panel, type="settings", temperature="")
    assert panel.params == {"top_p": 0.5, "max_tokens": 12}
    # parameters outside the form are not settings
    _intent(panel, type="settings", top_p=0.9)
    assert panel.params["top_p"] == 0.5


def test_the_header_label_says_demo_or_the_api(live_server: Any, monkeypatch: Any) -> None:
    assert _panel(live_server).backend.startswith("EGP · ")
    monkeypatch.delenv("SPELLBOOK_API_KEY", raising=False)
    demo = ChatPanel()
    assert demo.backend.startswith("demo model (offline) · ") and demo.model == "demo"
    demo.close()


def test_undo_clear_brings_the_conversation_back_once(live_server: Any) -> None:
    panel = _panel(live_server)
    panel.send("keep me").wait(10)
    before = panel.messages
    assert len(before) == 2
    assert _intent(panel, type="clear")["type"] == "ack"
    assert panel.messages == []
    assert _intent(panel, type="undo-clear")["type"] == "ack"
    assert panel.messages == before
    # once only, and never over new messages
    assert _intent(panel, type="undo-clear")["type"] == "error"
    _intent(panel, type="clear")
    panel.send("new").wait(10)
    assert _intent(panel, type="undo-clear")["type"] == "error"
    assert [m["content"] for m in panel.messages if m["role"] == "user"] == ["new"]


def test_the_key_never_reaches_state_or_repr(live_server: Any) -> None:
    panel = _panel(live_server, model="demo?fault=401")
    panel.send("hi").wait(10)
    state = json.dumps(panel.get_state(), default=str)
    assert CANARY not in state
    assert CANARY not in repr(panel) and CANARY not in json.dumps(panel.messages)
    assert CANARY not in json.dumps(getattr(panel, "sent", []))


def test_vocabulary_matches_the_dispatcher_and_the_front_end() -> None:
    assert set(ChatPanel._dispatch) == set(INTENT_TYPES)
    # Each message type is declared in types.d.ts and named in the front end's code (the JS
    # tests check the dispatch table itself: js/__tests__/protocol.test.js).
    src = Path(__file__).parents[2] / "js" / "src"
    dts = (src / "types.d.ts").read_text("utf-8")
    code = "\n".join(f.read_text("utf-8") for f in sorted(src.glob("*.js")))
    for t in (*KERNEL_MESSAGE_TYPES, *INTENT_TYPES):
        assert f'type: "{t}"' in dts, t
        assert f'"{t}"' in code or f"{t}:" in code, t


def test_close_stops_the_worker(live_server: Any) -> None:
    panel = _panel(live_server, model="demo?tps=20")
    turn = panel.send("hello")
    panel.close()
    assert turn.done and turn.reply is not None and turn.reply.status == "cancelled"
