"""A named panel survives a kernel restart: a notebook sends three messages, the kernel is
restarted, the notebook runs again and its panel holds the same three exchanges (read back from
the store, not re-sent)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

STORE_CELL = "import os\nos.environ['NBCHAT_STORE'] = {path!r}"
PANEL_CELL = "import nbchat\nchat = nbchat.ChatPanel(name='restart-me', model='echo')\nchat"
SEND_CELL = """\
import json
sent = []
if not chat.messages:  # first run only: after the restart the store brings them back
    for text in ("one", "two", "three"):
        chat.send(text).wait(60)
        sent.append(text)
shown = [[m["role"], m["content"], m["id"]] for m in chat.messages]
print(json.dumps({"sent": sent, "messages": shown}))
"""


def _outputs(nb: nbformat.NotebookNode) -> dict[str, list[list[str]]]:
    text = "".join(o.text for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    result: dict[str, list[list[str]]] = json.loads(text.strip().splitlines()[-1])
    return result


def test_a_named_panel_comes_back_after_a_kernel_restart(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(STORE_CELL.format(path=str(store))),
        nbformat.v4.new_code_cell(PANEL_CELL),
        nbformat.v4.new_code_cell(SEND_CELL),
    ]
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            client.execute_cell(cell, i)
        before = _outputs(nb)
        client.km.restart_kernel(now=True)
        client.kc.wait_for_ready(timeout=120)
        for i, cell in enumerate(nb.cells):
            client.execute_cell(cell, i)
        after = _outputs(nb)
    assert before["sent"] == ["one", "two", "three"]
    contents = [[role, content] for role, content, _ in before["messages"]]
    assert contents == [
        ["user", "one"],
        ["assistant", "one"],
        ["user", "two"],
        ["assistant", "two"],
        ["user", "three"],
        ["assistant", "three"],
    ]
    assert after["sent"] == []  # nothing was sent again ...
    assert after["messages"] == before["messages"]  # ... the same six messages, same ids
