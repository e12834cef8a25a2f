"""The store in a real JupyterLab: a named panel's conversation comes back in the DOM after a
kernel restart and a re-run; the pencil edits a message into a new branch and "‹ 1 / 2 ›"
switches back."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import NotebookPage
from .test_panel import STREAM_TIMEOUT_MS, Panel, py_messages

pytestmark = pytest.mark.timeout(240)

SETUP = """\
import json, os
os.environ["NBCHAT_STORE"] = {store!r}
import nbchat
server = nbchat.serve(tokens_per_second=200)
chat = nbchat.ChatPanel(
    client=nbchat.Client(base_url=server.url + "/egp/v1"), model="echo", name={name!r}
)
chat"""


def _texts(panel: Panel) -> list[tuple[str, str]]:
    msgs = panel.messages()
    out = []
    for i in range(msgs.count()):
        m = msgs.nth(i)
        out.append((m.get_attribute("data-role") or "", panel.content(m).inner_text().strip()))
    return out


def _send(panel: Panel, text: str, count: int) -> None:
    panel.type_and_enter(text)
    expect(panel.messages()).to_have_count(count, timeout=STREAM_TIMEOUT_MS)
    panel.wait_idle()


def test_the_restored_panel_shows_the_conversation(notebook: NotebookPage, tmp_path: Path) -> None:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    notebook.open_notebook([SETUP.format(store=str(tmp_path / "store.db"), name=name)])
    panel = Panel(notebook)
    expect(panel.composer).to_be_visible(timeout=20_000)
    for i, text in enumerate(("one", "two", "three")):
        _send(panel, text, 2 * (i + 1))
    shown = _texts(panel)
    assert shown == [(r, t) for t in ("one", "two", "three") for r in ("user", "assistant")]

    pid = notebook.add_and_run_cell("print(os.getpid())").strip()

    # Restart the kernel (no dialog: the kernel API), run the notebook again.
    notebook.page.evaluate(
        "async () => { await window.jupyterapp.shell.currentWidget.sessionContext.session"
        ".kernel.restart(); }"
    )
    notebook.wait_for_kernel()
    notebook.run_all()
    notebook.wait_for_all(timeout_ms=60_000)
    assert notebook.add_and_run_cell("print(os.getpid())").strip() != pid  # a new kernel
    panel = Panel(notebook)
    expect(panel.messages()).to_have_count(6, timeout=20_000)
    assert _texts(panel) == shown  # the same three exchanges, from the store
    assert [m["content"] for m in py_messages(notebook)] == [t for _, t in shown]

    # Edit the second question in place: Enter sends it as a new branch.
    second = panel.messages("user").nth(1)
    second.hover()
    second.locator('[data-testid="edit"]').click()
    box = second.locator('[data-testid="edit-input"]')
    expect(box).to_have_value("two")
    box.fill("two, edited")
    box.press("Enter")
    expect(panel.messages()).to_have_count(4, timeout=STREAM_TIMEOUT_MS)
    panel.wait_idle()
    assert _texts(panel)[2:] == [("user", "two, edited"), ("assistant", "two, edited")]
    edited = panel.messages("user").nth(1)
    expect(edited.locator('[data-testid="branch-pos"]')).to_have_text("2 / 2")
    edited.locator('[data-testid="branch-prev"]').click()
    expect(panel.messages()).to_have_count(6, timeout=STREAM_TIMEOUT_MS)
    assert _texts(panel) == shown  # the old branch, kept
    expect(panel.messages("user").nth(1).locator('[data-testid="branch-pos"]')).to_have_text(
        "1 / 2"
    )
    assert notebook.relevant_errors() == []
