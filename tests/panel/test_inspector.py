"""The panel's raw records, Raw view intent and budget (issue 15): chat.raw(i), raw-request ->
raw, nothing synced until asked; ChatPanel(budget=...) refuses before sending and appends
nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

import nbchat
from nbchat.data import prices
from nbchat.panel.vocabulary import INTENT_TYPES, KERNEL_MESSAGE_TYPES

CANARY = "sk-canary-inspector-93ab"


class Panel(nbchat.ChatPanel):
    """A panel that keeps what it sends to the front end."""

    def send_msg(self, content: dict[str, Any]) -> None:
        self.__dict__.setdefault("sent", []).append(content)


@pytest.fixture(autouse=True)
def _fresh_prices() -> Any:
    prices.reset()
    nbchat.set_price("demo", input=1_000.0, output=1_000.0)  # $0.001 per token
    yield
    prices.reset()


def _panel(server: Any, **kw: Any) -> Panel:
    client = nbchat.Client(base_url=server.url + "/egp/v1", api_key=CANARY)
    return Panel(client=client, model="demo?tps=0", store=False, **kw)


def _intent(panel: Panel, **msg: Any) -> list[dict[str, Any]]:
    panel.__dict__["sent"] = []
    panel._on_custom_msg(None, msg, [])
    return list(panel.__dict__["sent"])


def test_raw_of_each_reply_and_the_growing_history(live_server: Any) -> None:
    panel = _panel(live_server)
    for q in ("What is a token?", "And temperature?", "Why does it grow?"):
        panel.send(q).wait(10)
    bodies = [panel.raw(i).attempts[-1].body["messages"] for i in (1, 3, 5)]
    assert [len(b) for b in bodies] == [1, 3, 5]  # the whole history is re-sent every turn
    assert bodies[2][:3] == bodies[1] and bodies[1][:1] == bodies[0]
    sizes = [m["request_bytes"] for m in panel.messages if m["role"] == "assistant"]
    assert sizes == sorted(sizes) and sizes[0] > 0
    assert panel.raw(-1) is panel.raw(5)
    with pytest.raises(LookupError, match="user message"):
        panel.raw(0)
    with pytest.raises(IndexError):
        panel.raw(6)


def test_the_raw_view_intent_answers_once_and_nothing_is_synced(live_server: Any) -> None:
    assert "raw-request" in INTENT_TYPES and "raw" in KERNEL_MESSAGE_TYPES
    panel = _panel(live_server)
    panel.send("hello").wait(10)
    synced = {k: v for k, v in panel.get_state().items() if k not in ("_esm", "_css")}
    state = json.dumps(synced, default=str)
    assert "event_count" not in state and "uvicorn" not in state  # not synced
    reply_id = panel.messages[1]["id"]
    (answer,) = _intent(panel, type="raw-request", id="r1", message_id=reply_id)
    assert answer["type"] == "raw" and answer["id"] == "r1" and answer["message_id"] == reply_id
    assert answer["attempts"][0]["headers"]["x-api-key"] == "***"
    assert answer["attempts"][0]["body"]["messages"] == [{"role": "user", "content": "hello"}]
    assert answer["event_count"] == len(answer["events"]) > 1
    assert "$SPELLBOOK_API_KEY" in answer["curl"]
    assert CANARY not in json.dumps(answer)
    (missing,) = _intent(panel, type="raw-request", id="r2", message_id="nope")
    assert missing == {"type": "error", "id": "r2", "message": missing["message"]}
    assert "no longer in the conversation" in missing["message"]
    (user,) = _intent(panel, type="raw-request", id="r3", message_id=panel.messages[0]["id"])
    assert user["type"] == "error" and "user message" in user["message"]


def test_a_panel_budget_refuses_before_sending_and_appends_nothing(live_server: Any) -> None:
    panel = _panel(live_server, budget=0.5, max_tokens=50)
    assert panel.budget == {"limit": 0.5, "spent": 0.0, "remaining": 0.5}
    reply = panel.send("hi").wait(10)
    assert reply.cost is not None and panel.messages[1]["cost"] == reply.cost
    assert panel.budget["spent"] == pytest.approx(reply.cost)
    assert panel.budget["remaining"] == pytest.approx(0.5 - reply.cost)
    panel.params = {"max_tokens": 1_000}  # worst case now over what remains
    before, messages = live_server.stats()["requests"], list(panel.messages)
    with pytest.raises(nbchat.BudgetExceeded, match="refused before sending"):
        panel.send("a longer answer, please")
    assert live_server.stats()["requests"] == before
    assert panel.messages == messages and panel.status == "idle"
    assert "refused before sending" in panel.error and "budget remains" in panel.error
    # the front end's send: an error answer with the same words, nothing appended
    (answer,) = _intent(panel, type="send", id="s1", text="again")
    assert answer["type"] == "error" and "refused before sending" in answer["message"]
    assert panel.messages == messages and live_server.stats()["requests"] == before


def test_cost_in_the_message_and_the_frames(live_server: Any) -> None:
    panel = _panel(live_server)
    panel.send("hi").wait(10)
    panel.send("again").wait(10)
    u = panel.usage()
    replies = [m for m in panel.messages if m["role"] == "assistant"]
    assert u["cost"].tolist() == pytest.approx([m["cost"] for m in replies])
    assert u["cumulative_cost"].iloc[-1] == pytest.approx(sum(m["cost"] for m in replies))
    assert all(m["price_source"].startswith("set_price()") for m in replies)
    usage = replies[0]["usage"]
    assert replies[0]["cost"] == pytest.approx((usage["prompt"] + usage["completion"]) * 0.001)
