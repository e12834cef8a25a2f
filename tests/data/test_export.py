"""Exports: markdown, a notebook that nbformat validates (code cells from Python blocks), and
save/load round-tripping every field and every branch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

import nbchat
from nbchat.data.export import python_blocks, to_markdown
from nbchat.panel import ChatPanel

REPLY = """Here is how:

```python
x = 1
print(x + 1)
```

Not Python:

```bash
echo hi
```

~~~py
def f():
    return "```"
~~~
"""


def _messages() -> list[dict[str, Any]]:
    return [
        {"id": "u1", "role": "user", "content": "Show me code", "created_at": "2026-01-01"},
        {"id": "a1", "role": "assistant", "content": REPLY, "model": "m"},
    ]


def test_python_blocks() -> None:
    assert python_blocks(REPLY) == ["x = 1\nprint(x + 1)", 'def f():\n    return "```"']
    assert python_blocks("```python\nunclosed = 1") == ["unclosed = 1"]
    assert python_blocks("no code") == []


def test_markdown_has_role_headings_and_the_reply_verbatim() -> None:
    text = to_markdown(_messages(), system="Be brief.", title="lesson")
    assert text.startswith("# lesson\n")
    assert "## System\n\nBe brief.\n" in text
    assert "## User\n\nShow me code\n" in text
    assert f"## Assistant (m)\n\n{REPLY}" in text


def test_the_notebook_is_valid_and_has_the_code_cells(tmp_path: Path) -> None:
    panel = ChatPanel(store=False)
    panel.messages = _messages()
    path = panel.to_notebook(tmp_path / "chat.ipynb")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds == ["markdown", "markdown", "code", "code"]
    assert nb.cells[0].source == "## User\n\nShow me code"
    assert nb.cells[2].source == "x = 1\nprint(x + 1)"
    assert nb.cells[3].source == 'def f():\n    return "```"'


def test_save_and_load_round_trip_every_field_and_branch(live_server: Any, tmp_path: Path) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1")
    chat = ChatPanel(client=client, model="echo", system="terse", temperature=0.3)
    chat.send("one").wait(10)
    chat.send("two").wait(10)
    chat.edit(2, "deux").wait(10)
    path = chat.save(tmp_path / "chat.json")
    loaded = ChatPanel.load(path, client=client)
    assert loaded.messages == chat.messages  # every field, parent ids and branches too
    assert (loaded.model, loaded.system, loaded.params) == ("echo", "terse", {"temperature": 0.3})
    assert (
        loaded.branches()
        .drop(columns="created_at")
        .equals(chat.branches().drop(columns="created_at"))
    )
    doc = json.loads(loaded.to_json())
    assert doc["messages"] == json.loads(chat.to_json())["messages"]
    assert len(doc["tree"]) == 6
    # text works too, and the loaded conversation is a stored one of its own
    again = ChatPanel.load(path.read_text("utf-8"), client=client)
    assert again.messages == chat.messages
    assert again.conversation_id != chat.conversation_id
    assert again.conversation_id in set(nbchat.conversations()["conversation_id"])
    again.switch_branch(chat.messages[2]["branches"][0])
    assert [m["content"] for m in again.messages] == ["one", "one", "two", "two"]


def test_load_refuses_a_bad_tree(tmp_path: Path) -> None:
    doc = json.loads(ChatPanel(store=False).to_json())
    doc["tree"] = [{"content": "no id"}]
    with pytest.raises(ValueError, match="tree"):
        ChatPanel.load(json.dumps(doc))
