"""ChatPanel.to_json / from_json: a saved conversation loads back without losing a field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nbchat import ChatPanel, Client


@pytest.fixture
def client(live_server: Any) -> Client:
    return Client(base_url=live_server.url + "/egp/v1", api_key="sk-secret-do-not-save")


def test_round_trip(client: Client) -> None:
    panel = ChatPanel(
        client=client,
        model="demo",
        system="Be brief.",
        temperature=0.2,
        max_tokens=400,
        stop=["\n\n\n"],
    )
    panel.send("What is a token?").wait(30)
    panel.send("What is a system prompt? ✓ «unicode»").wait(30)
    stopped = panel.send("And temperature?")
    stopped.wait(30)
    data = panel.to_json()

    assert "sk-secret" not in data
    state = json.loads(data)
    assert "api_key" not in data and "client" not in state
    assert state["model"] == "demo" and state["system"] == "Be brief."

    loaded = ChatPanel.from_json(data, client=client)
    assert loaded.messages == panel.messages  # every field of every message
    assert loaded.model == panel.model
    assert loaded.system == panel.system
    assert loaded.params == panel.params
    assert loaded.client is client
    assert loaded.to_json() == data
    # the frames agree too
    assert loaded.history().equals(panel.history())
    # the loaded panel carries on the conversation
    loaded.send("Thanks!").wait(30)
    assert len(loaded.messages) == len(panel.messages) + 2
    assert loaded.messages[-1]["usage"]["prompt"] > panel.messages[-1]["usage"]["prompt"]
    panel.close()
    loaded.close()


def test_round_trip_keeps_errors_and_partial_text(client: Client) -> None:
    panel = ChatPanel(client=client, model="demo?fault=drop&after=3")
    panel.send("hello").wait(30)
    assert panel.messages[-1]["status"] in ("interrupted", "error")
    loaded = ChatPanel.from_json(panel.to_json(), client=client)
    assert loaded.messages == panel.messages
    assert loaded.messages[-1]["error"]
    panel.close()
    loaded.close()


def test_default_client_is_demo_without_key(
    monkeypatch: pytest.MonkeyPatch, client: Client
) -> None:
    monkeypatch.delenv("SPELLBOOK_API_KEY", raising=False)
    panel = ChatPanel(client=client, model="demo")
    panel.send("hi").wait(30)
    loaded = ChatPanel.from_json(panel.to_json())
    assert loaded.messages == panel.messages
    assert "demo" in loaded.backend
    panel.close()
    loaded.close()


def test_rejects_other_json() -> None:
    with pytest.raises(ValueError, match="not an nbchat conversation"):
        ChatPanel.from_json(json.dumps({"messages": []}))
    with pytest.raises(ValueError, match="newer nbchat"):
        ChatPanel.from_json(
            json.dumps({"format": "nbchat.conversation", "version": 99, "messages": []})
        )
