"""The paged conversation: a new message costs the same however long the chat is."""

from __future__ import annotations

import json
from typing import Any

import pytest

import nbchat
from nbchat.panel import ChatPanel
from nbchat.panel.pages import PAGE_SIZE, MessagePage, layout


def _msgs(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": str(i), "role": "user", "content": f"m{i}"} for i in range(start, start + n)]


@pytest.mark.parametrize("n", [0, 1, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1, 3 * PAGE_SIZE + 7])
def test_layout_keeps_order_and_one_to_page_size_recent(n: int) -> None:
    pages, recent, dropped = layout([], _msgs(n))
    assert [m for p in pages for m in p.messages] + recent == _msgs(n)
    assert all(len(p.messages) == PAGE_SIZE for p in pages)
    assert (n == 0 and recent == []) or 1 <= len(recent) <= PAGE_SIZE
    assert dropped == []


def test_layout_reuses_matching_pages_and_drops_the_rest() -> None:
    pages, _, _ = layout([], _msgs(3 * PAGE_SIZE + 5))
    again, recent, dropped = layout(pages, _msgs(3 * PAGE_SIZE + 9))
    assert again[:3] == pages and dropped == [] and len(recent) == 9
    cut, recent, dropped = layout(pages, _msgs(PAGE_SIZE + 3))  # a retry that cuts deep
    assert cut == pages[:1] and dropped == pages[1:] and recent == _msgs(3, PAGE_SIZE)
    changed = _msgs(2 * PAGE_SIZE + 1)
    changed[0]["content"] = "edited"
    fresh, _, dropped = layout(pages, changed)
    assert fresh[0] is not pages[0] and dropped == pages


class Capturing(ChatPanel):
    """Records the state updates the panel would send to the front end."""

    def _send(self, msg: dict[str, Any], buffers: Any = None) -> None:
        self.__dict__.setdefault("updates", []).append(msg)


def _update_bytes(panel: Capturing) -> int:
    return sum(
        len(json.dumps(m["state"]))
        for m in panel.__dict__.get("updates", [])
        if m.get("method") == "update"
    )


def test_a_turn_costs_the_same_however_long_the_chat(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1")
    costs = []
    for history in (0, 10 * PAGE_SIZE):
        panel = Capturing(client=client, model="echo")
        panel.messages = _msgs(history)
        panel.__dict__["updates"] = []
        panel.send("x" * 2000).wait(10)
        costs.append(_update_bytes(panel))
    assert costs[0] > 2 * 2000  # the user message and the reply were sent, once each at least
    # At most one page of recent messages is re-sent, whatever came before.
    assert costs[1] <= costs[0] + PAGE_SIZE * 200, costs


def test_messages_round_trip_through_pages(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1")
    panel = ChatPanel(client=client, model="echo")
    for i in range(PAGE_SIZE):  # 2 * PAGE_SIZE messages: pages get made along the way
        panel.send(f"question {i}").wait(10)
    msgs = panel.messages
    assert [m["content"] for m in msgs[::2]] == [f"question {i}" for i in range(PAGE_SIZE)]
    assert len(panel.pages) == 1 and len(panel.recent) == PAGE_SIZE
    assert all(isinstance(p, MessagePage) for p in panel.pages)
    state = panel.get_state()
    assert state["pages"] == [f"IPY_MODEL_{panel.pages[0].model_id}"]
    panel.retry()
    panel._runner.turn.wait(10)  # type: ignore[union-attr]
    assert [m["content"] for m in panel.messages] == [m["content"] for m in msgs]
    panel.clear()
    assert panel.messages == [] and panel.pages == []
