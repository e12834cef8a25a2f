"""ChatPanel.send() checks the turn before the user message joins the conversation (issue 10,
item 18): a turn that cannot start leaves no orphan message, and the panel can send again."""

from __future__ import annotations

from typing import Any

import pytest

import nbchat
from nbchat.panel import ChatPanel


def _panel(server: Any, **kw: Any) -> ChatPanel:
    client = nbchat.Client(base_url=server.url + "/egp/v1", api_key="k", max_retries=0)
    return ChatPanel(client=client, model="echo", store=False, **kw)


def test_bad_parameters_are_refused_when_the_panel_is_built(live_server: Any) -> None:
    with pytest.raises(nbchat.ConfigError, match="stop must be a string or a list of strings"):
        _panel(live_server, stop=5)
    with pytest.raises(nbchat.ConfigError, match="temperature must be a finite number"):
        _panel(live_server, temperature=float("nan"))


@pytest.mark.parametrize(
    ("params", "says"),
    [({"stop": 5}, "stop must be"), ({"temperature": "hot"}, "temperature must be a number")],
)
def test_a_send_that_cannot_start_leaves_no_orphan(
    live_server: Any, params: dict[str, Any], says: str
) -> None:
    panel = _panel(live_server)
    assert panel.send("first").wait(10).content == "first"
    before = panel.messages
    panel.params = params  # set behind the settings' back: the send must still refuse it
    for _ in range(3):
        with pytest.raises(nbchat.ConfigError, match=says):
            panel.send("never sent")
        assert panel.messages == before  # no orphan user message, however often it is tried
        assert panel.status == "idle" and panel.streaming == {}
    panel.params = {}
    assert panel.send("second").wait(10).content == "second"
    assert [m["content"] for m in panel.messages] == ["first", "first", "second", "second"]


def test_a_message_without_a_role_is_refused_without_an_orphan(live_server: Any) -> None:
    panel = _panel(live_server)
    panel.messages = [{"id": "m1", "content": "no role here", "status": "complete"}]
    with pytest.raises(nbchat.ConfigError, match=r"messages\[0\]\.role is missing"):
        panel.send("hello")
    assert len(panel.messages) == 1
    panel.messages = []
    assert panel.send("hello").wait(10).content == "hello"


def test_retry_that_cannot_start_keeps_the_reply(live_server: Any) -> None:
    panel = _panel(live_server)
    panel.send("once").wait(10)
    before = panel.messages
    panel.params = {"stop": 5}
    with pytest.raises(nbchat.ConfigError):
        panel.retry()
    assert panel.messages == before
