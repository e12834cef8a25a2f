"""Errors and reloads in a real browser: the server message with Retry, and a mid-stream reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import NotebookPage
from .test_panel import STREAM_TIMEOUT_MS, STREAMING_QUESTION, Panel, open_panel, py_messages

pytestmark = pytest.mark.timeout(150)


def test_error_shows_the_server_message_and_retry_recovers(notebook: NotebookPage) -> None:
    # The first three requests fail (the first try and two automatic retries), the fourth works.
    panel = open_panel(notebook, model="demo?fault=500&times=3", tps=400)
    panel.type_and_enter("What is a token?")
    error = panel.root.locator('[data-testid="error"]').first
    expect(error).to_be_visible(timeout=STREAM_TIMEOUT_MS)
    assert "500" in error.inner_text()
    assert "The server had an error" in error.inner_text()  # the server's own message
    assert panel.last().get_attribute("data-status") == "error"
    # The question is still there, and Retry sends it again in place of the failed reply.
    assert panel.content(panel.last("user")).inner_text().strip() == "What is a token?"
    panel.last().locator('[data-testid="retry"]').click()
    expect(panel.last()).to_have_attribute("data-status", "complete", timeout=STREAM_TIMEOUT_MS)
    expect(panel.messages()).to_have_count(2)
    msgs = py_messages(notebook)
    assert [(m["role"], m["status"]) for m in msgs] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert "token" in panel.content(panel.last()).inner_text().lower()
    assert notebook.relevant_errors() == []


@pytest.mark.usefixtures("comms_without_subshells")
def test_reload_mid_stream_shows_the_reply_in_progress(notebook: NotebookPage) -> None:
    panel = open_panel(notebook, model="demo?tps=15", tps=15)
    panel.type_and_enter(STREAMING_QUESTION)
    streaming = panel.wait_streaming()
    notebook.page.wait_for_function(
        """() => {
            const m = document.querySelector(
                '.nbchat-msg[data-streaming="true"] [data-testid="content"]');
            return m && m.textContent.length > 40;
        }""",
        timeout=STREAM_TIMEOUT_MS,
    )
    before_text = streaming.locator('[data-testid="content"]').evaluate("(el) => el.textContent")
    before = len(before_text)
    notebook.page.evaluate("() => { void window.jupyterapp.commands.execute('docmanager:save'); }")
    notebook.page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.context.model.dirty === false"
    )
    notebook.reload()
    panel = Panel(notebook)
    expect(panel.root).to_be_visible(timeout=20_000)
    # The new view asks the kernel for a snapshot: the text so far is back, and it keeps growing.
    panel.wait_streaming()
    notebook.page.wait_for_function(
        """(n) => {
            const m = document.querySelector(
                '.nbchat-msg[data-streaming="true"] [data-testid="content"]');
            return m && m.textContent.length > n;
        }""",
        arg=before,
        timeout=STREAM_TIMEOUT_MS,
    )
    # It starts with what the old view showed: the snapshot, not only the deltas since.
    now = (
        panel.streaming()
        .first.locator('[data-testid="content"]')
        .evaluate("(el) => el.textContent")
    )
    assert now.startswith(before_text[:30]), (before_text[:60], now[:60])
    expect(panel.content(panel.last("user"))).to_have_text(STREAMING_QUESTION)
    panel.root.locator('[data-testid="stop"]').click()
    panel.wait_idle(timeout_ms=10_000)
    shown = panel.content(panel.last()).inner_text()
    kernel = py_messages(notebook)[-1]
    assert kernel["status"] == "stopped"
    # The DOM is rendered markdown; compare words, not markup.
    assert shown.split()[:5] == kernel["content"].replace("**", "").split()[:5]
    assert notebook.relevant_errors() == []


@pytest.mark.usefixtures("comms_without_subshells")
def test_a_long_conversation_in_pages_survives_reload(notebook: NotebookPage) -> None:
    """More messages than one page: the pages (child models) render, in order, after a reload."""
    panel = open_panel(notebook, model="echo?tps=0", tps=0)
    notebook.add_and_run_cell(
        "for i in range(25):\n    chat.send(f'message {i:02d}').wait(20)\nprint(len(chat.pages))"
    )
    expect(panel.messages()).to_have_count(50, timeout=STREAM_TIMEOUT_MS)
    # The panel's static transcript output (panel/transcript.py) is refreshed once after the
    # last turn; it changes the notebook, so save only once it holds the last message.
    notebook.wait_for_transcript("message 24")
    notebook.page.evaluate("() => { void window.jupyterapp.commands.execute('docmanager:save'); }")
    notebook.page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.context.model.dirty === false"
    )
    notebook.reload()
    panel = Panel(notebook)
    expect(panel.messages()).to_have_count(50, timeout=20_000)
    texts = [panel.content(panel.messages().nth(i)).inner_text().strip() for i in range(0, 50, 2)]
    assert texts == [f"message {i:02d}" for i in range(25)]
    assert len(py_messages(notebook)) == 50
    assert notebook.relevant_errors() == []
