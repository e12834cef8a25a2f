"""The model picker in a real JupyterLab (issue 11, item 2): a panel built without a model on a
server that lists several offers them in the settings' model field; picking one lets it chat."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from .conftest import NotebookPage

pytestmark = pytest.mark.timeout(150)

SETUP = """\
import json, nbchat
server = nbchat.serve(tokens_per_second=0)
chat = nbchat.ChatPanel(client=nbchat.Client(base_url=server.url + "/egp/v1"), store=False)
chat"""


def test_the_picker_offers_the_servers_models(notebook: NotebookPage) -> None:
    notebook.open_notebook([SETUP])
    root = notebook.page.locator('[data-testid="nbchat"]').first
    expect(root).to_be_visible(timeout=20_000)
    settings = root.locator('[data-testid="settings"]')
    field = root.locator('[data-testid="model"]')
    # No model was given and the server lists three: the drawer opens at the picker.
    expect(settings).to_have_attribute("open", "")
    expect(field).to_have_value("")
    options = root.locator('[data-testid="model-options"] option')
    expect(options).to_have_count(3)
    assert [options.nth(i).get_attribute("value") for i in range(3)] == ["demo", "echo", "bench"]
    assert field.get_attribute("list") == root.locator(
        '[data-testid="model-options"]'
    ).get_attribute("id")

    field.fill("echo")
    field.evaluate("el => el.blur()")  # the change event sends the settings intent
    notebook.page.wait_for_function(
        "() => document.querySelector('[data-testid=\"model\"]').value === 'echo'"
    )
    composer = root.locator('textarea[data-testid="composer"]')
    composer.click()
    composer.fill("picked from the list")
    composer.press("Enter")
    reply = root.locator('.nbchat-msg[data-role="assistant"] [data-testid="content"]').last
    expect(reply).to_have_text("picked from the list", timeout=30_000)
    out = notebook.add_and_run_cell("print(json.dumps([chat.model, chat.models, chat.error]))")
    model, models, _error = json.loads(out)
    assert model == "echo" and models == ["demo", "echo", "bench"]
    assert notebook.relevant_errors() == []
