"""``Client(store=True)`` and ``%%chat`` write their turns to the store; a plain client does not,
and a panel on a storing client stores each turn once."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbchat
from nbchat import magic
from nbchat.panel import ChatPanel


def test_a_plain_client_stores_nothing(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1")
    client.complete([{"role": "user", "content": "not kept"}], model="echo")
    assert nbchat.logs().empty


def test_client_store_true_writes_each_exchange(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", store=True, api_key="sk-c-1")
    client.complete([{"role": "user", "content": "first"}], model="echo")
    with client.stream([{"role": "user", "content": "second"}], model="echo") as s:
        text = "".join(c.delta for c in s)
    assert text == "second"
    logs = nbchat.logs()
    assert logs["content"].tolist() == ["first", "first", "second", "second"]
    assert logs["role"].tolist() == ["user", "assistant"] * 2
    assert logs["parent_id"].tolist()[1:] == logs["message_id"].tolist()[:-1]
    assert logs["total_tokens"].notna().tolist() == [False, True, False, True]
    assert logs["conversation_id"].nunique() == 1


def test_a_panel_on_a_storing_client_stores_each_turn_once(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", store=True)
    chat = ChatPanel(client=client, model="echo", name="once")
    chat.send("hello").wait(10)
    assert nbchat.logs()["content"].tolist() == ["hello", "hello"]
    assert chat.client.store  # the user's client is left as it was


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("SPELLBOOK_API_KEY", "OPENAI_API_KEY", "NBCHAT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbchat")
    magic.reset(shell)
    yield shell
    magic.reset(shell)


def test_chat_magic_stores_each_turn(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    with capture_output():
        ip.run_cell_magic("chat", f"--base-url {base} --model echo", "one")
        ip.run_cell_magic("chat", "", "two")
        ip.run_cell_magic("chat", "--new", "three")
    logs = nbchat.logs()
    assert logs["content"].tolist() == ["one", "one", "two", "two", "three", "three"]
    assert logs["conversation_id"].nunique() == 2  # --new starts another conversation
    assert logs["parent_id"].tolist()[1:4] == logs["message_id"].tolist()[:3]
    assert logs["turn"].tolist() == [1, 1, 2, 2, 1, 1]
