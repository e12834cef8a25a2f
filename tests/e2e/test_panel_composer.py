"""The composer and the panel's safety nets in a real browser: Shift+Enter, a panel whose kernel
is gone, and Undo after Clear. Each of these failed before its fix (issue 11, items 1, 3, 5)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, NotebookPage
from .test_panel import STREAM_TIMEOUT_MS, STREAMING_QUESTION, Panel, open_panel, py_messages

pytestmark = pytest.mark.timeout(180)


def _shift_enter_sends_two_lines(notebook: NotebookPage) -> None:
    panel = open_panel(notebook, model="echo?tps=500")
    cells = notebook.cell_count()
    panel.composer.click()
    panel.composer.press_sequentially("line one")
    panel.composer.press("Shift+Enter")
    panel.composer.press_sequentially("line two")
    expect(panel.composer).to_have_value("line one\nline two")
    # the box grew to show both lines
    height = panel.composer.evaluate("(el) => el.getBoundingClientRect().height")
    assert height > 40, height
    # nothing ran and no cell was added (Notebook 7 used to re-run the panel's cell)
    assert notebook.cell_count() == cells
    expect(panel.root).to_be_visible()
    panel.composer.press("Enter")
    expect(panel.messages("assistant")).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    panel.wait_idle()
    msgs = py_messages(notebook)
    assert msgs[-2]["role"] == "user"
    assert msgs[-2]["content"] == "line one\nline two"
    assert msgs[-1]["content"] == "line one\nline two"  # the echo model
    assert notebook.relevant_errors() == []


def test_shift_enter_adds_a_line_in_jupyterlab(notebook: NotebookPage) -> None:
    _shift_enter_sends_two_lines(notebook)


@pytest.mark.parametrize("jupyter_server", ["notebook"], indirect=True)
def test_shift_enter_adds_a_line_in_notebook7(notebook: NotebookPage) -> None:
    _shift_enter_sends_two_lines(notebook)


def test_a_panel_whose_kernel_restarted_keeps_the_text(notebook: NotebookPage) -> None:
    panel = open_panel(notebook, model="echo?tps=500")
    panel.type_and_enter("before the restart")
    expect(panel.messages("assistant")).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    panel.wait_idle()
    expect(panel.last("assistant")).to_have_attribute("data-status", "complete")
    # restart the kernel, without re-running the cell: the panel stays on the page, with no
    # kernel-side widget behind it
    notebook.page.evaluate(
        "() => { void window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".restart(); }"
    )
    notebook.wait_for_kernel()
    panel.composer.click()
    panel.composer.fill("are you there?")
    panel.composer.press("Enter")
    notice = panel.root.locator('[data-testid="not-connected"]')
    expect(notice).to_be_visible(timeout=10_000)
    expect(notice).to_contain_text("run the cell")
    expect(panel.composer).to_have_value("are you there?")
    send = panel.root.locator('[data-testid="send"]')
    expect(send).to_be_disabled()
    panel.composer.press("Enter")  # still nothing is lost
    expect(panel.composer).to_have_value("are you there?")
    ARTIFACTS.mkdir(exist_ok=True)
    panel.root.screenshot(path=str(ARTIFACTS / "panel-not-connected.png"))

    # re-run the cell: a live panel again
    notebook.page.evaluate(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " w.content.activeCellIndex = 0; w.content.deselectAll();"
        " void window.jupyterapp.commands.execute('notebook:run-cell'); }"
    )
    notebook.wait_for_execution(0)
    panel = Panel(notebook)
    expect(panel.root.locator('[data-testid="not-connected"]')).to_be_hidden(timeout=20_000)
    panel.type_and_enter("after the rerun")
    expect(panel.messages("assistant")).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    panel.wait_idle()
    assert panel.content(panel.last("assistant")).inner_text().strip() == "after the rerun"
    expect(panel.root.locator('[data-testid="not-connected"]')).to_be_hidden()
    assert notebook.relevant_errors() == []


def test_clear_can_be_undone(notebook: NotebookPage) -> None:
    panel = open_panel(notebook, model="echo?tps=500")
    for text in ("first", "second"):
        panel.type_and_enter(text)
        panel.wait_idle()
    expect(panel.messages()).to_have_count(4)
    clear = panel.root.locator('[data-testid="clear"]')
    # Clear sits in the header, away from Send
    assert clear.evaluate("(el) => !!el.closest('.nbchat-header')")
    clear.click()
    expect(panel.messages()).to_have_count(0)
    toast = panel.root.locator('[data-testid="toast"]')
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("Conversation cleared")
    ARTIFACTS.mkdir(exist_ok=True)
    panel.root.screenshot(path=str(ARTIFACTS / "panel-cleared-undo.png"))
    toast.locator('[data-testid="undo-clear"]').click()
    expect(panel.messages()).to_have_count(4, timeout=10_000)
    expect(toast).to_be_hidden()
    texts = [panel.content(panel.messages().nth(i)).inner_text().strip() for i in range(4)]
    assert texts == ["first", "first", "second", "second"]
    assert [m["content"] for m in py_messages(notebook)] == ["first", "first", "second", "second"]
    assert notebook.relevant_errors() == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_narrow_and_streaming(notebook: NotebookPage, theme: str) -> None:
    """For people to look at: a narrow page (400 px) while a reply streams, then after it."""
    notebook.page.set_viewport_size({"width": 760, "height": 900})
    panel = open_panel(notebook, model="demo?tps=30", tps=30, theme=theme)
    notebook.page.evaluate(
        "() => { window.jupyterapp.shell.collapseLeft && window.jupyterapp.shell.collapseLeft(); }"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    panel.root.scroll_into_view_if_needed()
    panel.root.screenshot(path=str(ARTIFACTS / f"panel-760-empty-{theme}.png"))
    # the endpoint has a tooltip, and the placeholder stays on the empty box's one line
    backend = panel.root.locator('[data-testid="backend"]')
    assert "http://" in (backend.get_attribute("title") or "")
    one_line = "(el) => el.scrollHeight <= el.clientHeight + 2"
    assert panel.composer.evaluate(one_line)
    notebook.page.set_viewport_size({"width": 400, "height": 900})
    expect(panel.composer).to_have_attribute("placeholder", "Message…")
    assert panel.composer.evaluate(one_line)
    panel.type_and_enter(STREAMING_QUESTION)
    panel.wait_streaming()
    notebook.page.wait_for_function(
        """() => {
            const m = document.querySelector(
                '.nbchat-msg[data-streaming="true"] [data-testid="content"]');
            return m && m.textContent.length > 60;
        }""",
        timeout=STREAM_TIMEOUT_MS,
    )
    panel.root.screenshot(path=str(ARTIFACTS / f"panel-400-streaming-{theme}.png"))
    panel.root.locator('[data-testid="stop"]').click()
    panel.wait_idle(timeout_ms=10_000)
    expect(panel.last("assistant")).to_have_attribute("data-status", "stopped")
    panel.root.screenshot(path=str(ARTIFACTS / f"panel-400-stopped-{theme}.png"))
    assert notebook.relevant_errors() == []
