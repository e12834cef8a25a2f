"""Cost, budget and the Raw view in a real JupyterLab (issue 15).

The key is a canary the kernel reads from a file, so it is in no cell's source: after three
turns, with the Raw view of turn 1 and turn 3 opened and "Copy as curl" pressed, the canary is
in neither the page's DOM nor the clipboard (read back from the real clipboard).
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, NotebookPage

pytestmark = pytest.mark.timeout(180)

SETUP = """\
import json, nbchat
server = nbchat.serve(tokens_per_second=400)
nbchat.set_price("demo", input=150.0, output=600.0)
key = open("{key_file}").read().strip()
chat = nbchat.ChatPanel(
    client=nbchat.Client(base_url=server.url + "/egp/v1", api_key=key),
    model="demo", store=False, budget=5.0,
)
del key
chat"""


def send(nb: NotebookPage, text: str) -> None:
    out = nb.add_and_run_cell(f"chat.send({text!r}).wait()\nprint('sent')", timeout_ms=60_000)
    assert "sent" in out, f"the send cell failed: {out[-2000:]}"


def test_raw_view_copy_as_curl_and_cost_never_show_the_key(notebook: NotebookPage) -> None:
    nb = notebook
    canary = f"sk-canary-e2e-{uuid.uuid4().hex[:12]}"
    key_file = f"key-{uuid.uuid4().hex[:8]}.txt"
    (nb.server.root_dir / key_file).write_text(canary + "\n")
    nb.open_notebook([SETUP.format(key_file=key_file)])
    out = nb.cell_output(0)
    if "Error" in out or "Traceback" in out:
        pytest.fail(f"the setup cell failed: {out}", pytrace=False)
    root = nb.page.locator('[data-testid="nbchat"]').first
    expect(root).to_be_visible(timeout=20_000)
    expect(root.locator('[data-testid="budget"]')).to_have_text("Budget: $5.00 of $5.00 left")

    for q in ("What is a token?", "How does streaming work?", "Why does the prompt grow?"):
        send(nb, q)
    replies = root.locator('.nbchat-msg[data-role="assistant"]')
    expect(replies).to_have_count(3)

    # the footer's cost equals the kernel's, to the digits shown; the badge what remains
    costs = json.loads(
        nb.add_and_run_cell(
            "print(json.dumps([m['cost'] for m in chat.messages if m['role'] == 'assistant']))"
        )
    )
    assert all(c and c > 0 for c in costs), costs
    for i, c in enumerate(costs):
        expect(replies.nth(i).locator('[data-testid="cost"]')).to_have_text(f"${c:.4f}")
    left = 5.0 - sum(costs)
    badge = root.locator('[data-testid="budget"]')
    expect(badge).to_have_text(f"Budget: ${left:.2f} of $5.00 left")

    # the usage view sums the cost; its tooltip names the price source and when it was set
    root.locator('button[data-testid="usage-toggle"]').click()
    view = root.locator('[data-testid="usage-view"]')
    expect(view.locator('[data-testid="usage-summary"]')).to_contain_text(f"cost ${sum(costs):.4f}")
    over = view.locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    assert box is not None and box["width"] > 0
    x, y = box["x"] + box["width"] * 2.5 / 3, box["y"] + box["height"] - 4
    nb.page.mouse.move(x - 3, y)
    nb.page.mouse.move(x, y)
    tip = view.locator('[data-testid="usage-tooltip"]')
    expect(tip).to_have_attribute("data-turn", "3")
    expect(tip).to_contain_text(f"cost ${costs[2]:.4f}")
    expect(tip).to_contain_text(re.compile(r"price: set_price\(\).*set \d{4}-\d{2}-\d{2}"))
    nb.page.mouse.move(1, 1)

    # the Raw view: collapsed until opened; turn 1 sent one message, turn 3 five
    expect(root.locator('[data-testid="raw-view"]')).to_have_count(0)
    for turn, sent in ((0, 1), (2, 5)):
        reply = replies.nth(turn)
        toggle = reply.locator('[data-testid="raw-toggle"]')
        toggle.scroll_into_view_if_needed()
        toggle.click()
        view = reply.locator('[data-testid="raw-view"]')
        summary = view.locator('[data-testid="raw-summary"]')
        expect(summary).to_contain_text("events", timeout=10_000)
        expect(view).to_contain_text(f"({sent} {'message' if sent == 1 else 'messages'})")
        expect(view.locator('[data-testid="raw-headers"]')).to_contain_text("x-api-key: ***")
        events = view.locator('[data-testid="raw-events"]').inner_text()
        assert re.search(r"^\+\d+\.\d{3} s  \{", events, re.M), events[:500]
        expect(view.locator('[data-testid="raw-curl"]')).to_contain_text("$SPELLBOOK_API_KEY")
    body = replies.nth(2).locator('[data-testid="raw-body"]').inner_text()
    for q in ("What is a token?", "How does streaming work?", "Why does the prompt grow?"):
        assert q in body  # the whole history, re-sent
    ARTIFACTS.mkdir(exist_ok=True)
    root.screenshot(path=str(ARTIFACTS / "raw-view.png"))

    # copy as curl: the real clipboard holds the command with the variable, never the key
    origin = re.match(r"https?://[^/]+", nb.page.url)
    assert origin is not None
    nb.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin.group(0))
    copy = replies.nth(2).locator('[data-testid="copy-curl"]')
    copy.click()
    expect(copy).to_have_text("Copied")
    clip = nb.page.evaluate("navigator.clipboard.readText()")
    assert clip.startswith("curl -N ") and "$SPELLBOOK_API_KEY" in clip
    assert "Why does the prompt grow?" in clip
    assert canary not in clip

    # the key is nowhere in the page (panel, outputs, state in the DOM)
    assert canary not in nb.page.content()
    assert canary not in nb.page.evaluate("document.documentElement.outerHTML")
    # closing a Raw view removes it
    replies.nth(0).locator('[data-testid="raw-toggle"]').click()
    expect(replies.nth(0).locator('[data-testid="raw-view"]')).to_have_count(0)
    assert nb.relevant_errors() == []
