"""A saved notebook shows the conversation outside Jupyter (issue 11 item 4).

In real JupyterLab: the panel's cell carries a static transcript output, hidden while the panel
is live, refreshed after each finished turn; the notebook saved without widget state (the
default) converts with nbconvert to HTML that holds the whole conversation.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import nbformat
import pytest
from nbconvert import HTMLExporter
from playwright.sync_api import expect

from .conftest import ARTIFACTS, NotebookPage

pytestmark = pytest.mark.timeout(180)

SETUP = """\
import nbchat
server = nbchat.serve(tokens_per_second=400)
chat = nbchat.ChatPanel(
    client=nbchat.Client(base_url=server.url + "/egp/v1", api_key="sk-CANARY-static-42"),
    model="demo",
)
chat"""

QUESTIONS = ("What is a token?", "How does streaming work?")


def outputs(nb: NotebookPage, index: int) -> list[dict[str, Any]]:
    return nb.page.evaluate(
        "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.outputs.toJSON()",
        index,
    )


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def transcript(nb: NotebookPage) -> str:
    for o in outputs(nb, 0):
        html = (o.get("data") or {}).get("text/html")
        if html:
            return "".join(html) if isinstance(html, list) else html
    return ""


def test_saved_notebook_shows_the_conversation_without_widgets(notebook: NotebookPage) -> None:
    nb = notebook
    nb.open_notebook([SETUP])
    root = nb.page.locator('[data-testid="nbchat"]').first
    expect(root).to_be_visible(timeout=20_000)
    static = nb.page.locator(".nbchat-static")
    expect(static).to_have_count(1)
    expect(static).to_be_hidden()  # live panel: the transcript is not shown twice

    for q in QUESTIONS:
        out = nb.add_and_run_cell(f"chat.send({q!r}).wait()\nprint('sent')", timeout_ms=60_000)
        assert "sent" in out, out[-2000:]
    expect(root.locator('.nbchat-msg[data-role="assistant"]')).to_have_count(2)
    reply = nb.add_and_run_cell("print(chat.messages[-1]['content'][:60])").strip()
    reply = reply.replace("*", "")  # as text, without the markdown
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and reply[:40] not in text_of(transcript(nb)):
        time.sleep(0.2)
    html = text_of(transcript(nb))
    assert all(q in html for q in QUESTIONS) and reply[:40] in html
    expect(static).to_be_hidden()
    expect(root).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    nb.page.screenshot(path=str(ARTIFACTS / "static-transcript-live.png"))

    # save (JupyterLab's default: no widget state), then convert as GitHub/nbviewer would
    nb.page.evaluate("() => { void window.jupyterapp.commands.execute('docmanager:save'); }")
    assert nb.name is not None
    path = nb.server.root_dir / nb.name
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and QUESTIONS[1] not in path.read_text():
        time.sleep(0.2)
    saved = nbformat.read(str(path), as_version=4)
    assert "widgets" not in saved.metadata or not saved.metadata["widgets"]
    body, _ = HTMLExporter().from_notebook_node(saved)
    assert all(q in body for q in QUESTIONS) and reply[:40] in text_of(body)
    assert "messages=0" not in body
    # the key is in the cell's source (the user typed it), never in an output
    assert "sk-CANARY-static-42" not in json.dumps([c.get("outputs", []) for c in saved.cells])
    (ARTIFACTS / "static-transcript.html").write_text(body)
    assert json.dumps(saved.cells[0].outputs).count("nbchat-static") == 1
