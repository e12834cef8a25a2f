"""A saved conversation is checked when it is loaded (issue 10, item 19): every broken document
is a ConfigError naming the field, never a bare JSONDecodeError/KeyError/TypeError, and nothing
loads that would break ``to_json()`` or ``history()`` later. ``from_json`` also takes a path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nbchat
from nbchat import ChatPanel
from nbchat.data.saved import panel_from_json


@pytest.fixture(scope="module")
def saved(live_server: Any) -> str:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", max_retries=0)
    panel = ChatPanel(client=client, model="echo", store=False, temperature=0.3)
    panel.send("hello").wait(10)
    return panel.to_json()


def _edit(text: str, change: Callable[[dict[str, Any]], None]) -> str:
    doc = json.loads(text)
    change(doc)
    return json.dumps(doc)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *keys, last = path.split(".")
        target: Any = doc
        for k in keys:
            target = target[int(k)] if k.isdigit() else target[k]
        target[int(last) if last.isdigit() else last] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.pop(key)


CASES: list[tuple[str, Callable[[str], str], str]] = [
    ("truncated", lambda t: t[: len(t) // 2], "not valid JSON (truncated or damaged?)"),
    ("future version", lambda t: _edit(t, _set("version", 99)), "saved by a newer nbchat"),
    ("null version", lambda t: _edit(t, _set("version", None)), "version must be a whole number"),
    ("text version", lambda t: _edit(t, _set("version", "1")), "version must be a whole number"),
    ("no version", lambda t: _edit(t, _drop("version")), "version must be a whole number"),
    ("no messages", lambda t: _edit(t, _drop("messages")), "messages is missing"),
    ("messages object", lambda t: _edit(t, _set("messages", {})), "messages must be a list"),
    ("params list", lambda t: _edit(t, _set("params", [1, 2])), "params must be an object"),
    ("bad param", lambda t: _edit(t, _set("params", {"stop": 5})), "params: stop must be"),
    ("NaN", lambda t: t.replace('"temperature": 0.3', '"temperature": NaN'), "NaN"),
    ("Infinity", lambda t: t.replace('"latency": ', '"latency": Infinity, "x": '), "Infinity"),
    (
        "usage 1.5",
        lambda t: _edit(t, _set("messages.1.usage.prompt", 1.5)),
        "messages[1].usage.prompt",
    ),
    ("usage -1", lambda t: _edit(t, _set("messages.1.usage.total", -1)), "messages[1].usage.total"),
    ("no role", lambda t: _edit(t, lambda d: d["messages"][0].pop("role")), "messages[0].role"),
    ("bad role", lambda t: _edit(t, _set("messages.0.role", "robot")), "messages[0].role"),
    ("null content", lambda t: _edit(t, _set("messages.0.content", None)), "messages[0].content"),
    ("int content", lambda t: _edit(t, _set("messages.1.content", 5)), "messages[1].content"),
    ("bad status", lambda t: _edit(t, _set("messages.1.status", "done")), "messages[1].status"),
    ("text ttft", lambda t: _edit(t, _set("messages.1.ttft", "fast")), "messages[1].ttft"),
    ("usage list", lambda t: _edit(t, _set("messages.1.usage", [1])), "messages[1].usage"),
    ("message list", lambda t: _edit(t, _set("messages.0", ["user"])), "messages[0] must be"),
    ("array", lambda t: "[1, 2]", "is a JSON object, not list"),
    ("model int", lambda t: _edit(t, _set("model", 3)), "model must be a string"),
]


@pytest.mark.parametrize(
    ("broken", "says"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_broken_document_is_a_config_error_naming_the_field(
    saved: str, broken: Callable[[str], str], says: str
) -> None:
    text = broken(saved)
    assert text != saved
    with pytest.raises(nbchat.ConfigError) as info:
        ChatPanel.from_json(text, store=False)
    assert says in str(info.value)


def test_the_good_document_loads(saved: str) -> None:
    panel = ChatPanel.from_json(saved, store=False)
    assert [m["content"] for m in panel.messages] == ["hello", "hello"]
    assert panel.params == {"temperature": 0.3}
    assert json.loads(panel.to_json())["messages"] == json.loads(saved)["messages"]
    panel.history()


def test_a_path_loads_too(saved: str, tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text(saved, "utf-8")
    for source in (path, str(path)):
        panel = ChatPanel.from_json(source, store=False)  # type: ignore[arg-type]
        assert len(panel.messages) == 2
    assert panel_from_json(path)["model"] == "echo"
    with pytest.raises(nbchat.ConfigError, match="neither"):
        ChatPanel.from_json(str(tmp_path / "missing.json"), store=False)
    path.write_text(saved[:20], "utf-8")
    with pytest.raises(nbchat.ConfigError, match="not valid JSON"):
        ChatPanel.from_json(path, store=False)  # type: ignore[arg-type]
