"""Three panels in one notebook, saved with widget state, hold one copy of the front end
(issue 11 item 4: it was ~340 kB per panel), and all three work in real JupyterLab."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import NotebookPage

pytestmark = pytest.mark.timeout(180)

SETUP = """\
import nbchat
server = nbchat.serve(tokens_per_second=0)
client = nbchat.Client(base_url=server.url + "/egp/v1", api_key="k")
panels = [nbchat.ChatPanel(client=client, model="echo") for _ in range(3)]"""

SAVE_STATE = "@jupyter-widgets/jupyterlab-manager:saveWidgetState"
BUNDLE = Path(__file__).parents[2] / "nbchat" / "static" / "widget.js"


def _set_save_state(nb: NotebookPage, on: bool) -> None:
    nb.page.evaluate(
        """([id, on]) => {
            const c = window.jupyterapp.commands;
            if (c.isToggled(id) !== on) { void c.execute(id); }
        }""",
        [SAVE_STATE, on],
    )
    nb.page.wait_for_function(
        "([id, on]) => window.jupyterapp.commands.isToggled(id) === on", arg=[SAVE_STATE, on]
    )


def test_three_panels_save_one_copy_of_the_front_end(notebook: NotebookPage) -> None:
    nb = notebook
    nb.open_notebook([SETUP, "panels[0]", "panels[1]", "panels[2]"])
    nb.wait_for_all()
    roots = nb.page.locator('[data-testid="nbchat"]')
    expect(roots).to_have_count(3, timeout=30_000)
    for i in range(3):  # every panel works, through the shared front end
        root = roots.nth(i)
        box = root.locator('textarea[data-testid="composer"]')
        box.click()
        box.fill(f"hello from panel {i}")
        box.press("Enter")
        expect(root.locator('.nbchat-msg[data-role="assistant"]')).to_contain_text(
            f"hello from panel {i}", timeout=30_000
        )
    _set_save_state(nb, True)
    try:
        nb.page.evaluate("() => { void window.jupyterapp.commands.execute('docmanager:save'); }")
        assert nb.name is not None
        path = nb.server.root_dir / nb.name
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "application/vnd.jupyter.widget-state" not in (
            path.read_text()
        ):
            time.sleep(0.2)
        text = path.read_text()
    finally:
        _set_save_state(nb, False)
    assert "application/vnd.jupyter.widget-state" in text
    bundle = BUNDLE.read_text()
    # a distinctive run of the bundle's code, as it appears JSON-escaped in the file
    import json

    marker = json.dumps(bundle[len(bundle) // 2 : len(bundle) // 2 + 200])[1:-1]
    assert text.count(marker) == 1, text.count(marker)
    assert len(text) < 1.4 * len(bundle), (len(text), len(bundle))  # was about 3 x the bundle
