"""The usage view of the chat panel in a real JupyterLab: toggle, summary, tooltip, live update.

Replies are sent from Python (``chat.send(...).wait()``), the numbers the view shows are
compared with ``chat.messages`` read back through a cell's output.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from .conftest import ARTIFACTS, NotebookPage

pytestmark = pytest.mark.timeout(150)

SETUP = """\
import json, nbchat
server = nbchat.serve(tokens_per_second=400)
chat = nbchat.ChatPanel(
    client=nbchat.Client(base_url=server.url + "/egp/v1", api_key="t"),
    model="demo",
)
chat"""

READ_USAGE = (
    "print(json.dumps([m['usage'] for m in chat.messages"
    " if m['role'] == 'assistant' and m['usage']]))"
)


def numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


def send(nb: NotebookPage, text: str) -> None:
    out = nb.add_and_run_cell(f"chat.send({text!r}).wait()\nprint('sent')", timeout_ms=60_000)
    assert "sent" in out, f"the send cell failed: {out[-2000:]}"


def usages(nb: NotebookPage) -> list[dict[str, Any]]:
    out = nb.add_and_run_cell(READ_USAGE)
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        pytest.fail(f"could not read the usage of chat.messages: {out[:2000]}", pytrace=False)


def expected_summary(us: list[dict[str, Any]]) -> list[int]:
    prompt = sum(u["prompt"] or 0 for u in us)
    completion = sum(u["completion"] or 0 for u in us)
    total = sum(
        u["total"] if u["total"] is not None else (u["prompt"] or 0) + (u["completion"] or 0)
        for u in us
    )
    return [len(us), prompt, completion, total]


def hover_bar(nb: NotebookPage, view: Locator, index: int, count: int) -> Locator:
    """Move the mouse over bar ``index`` (of ``count``) and return the tooltip."""
    over = view.locator(".u-over")
    # new cells below the panel may have scrolled the notebook: mouse.move does not scroll
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    assert box is not None and box["width"] > 0, "the chart's plot area has no size"
    x = box["x"] + box["width"] * (index + 0.5) / count
    y = box["y"] + box["height"] - 4  # bars start at 0: the bottom is inside every bar
    nb.page.mouse.move(x - 3, y)
    nb.page.mouse.move(x, y)
    return view.locator('[data-testid="usage-tooltip"]')


def test_usage_view_summary_tooltip_and_live_update(notebook: NotebookPage) -> None:
    nb = notebook
    nb.open_notebook([SETUP])
    out = nb.cell_output(0)
    if "Error" in out or "Traceback" in out:
        pytest.fail(f"the setup cell failed: {out}", pytrace=False)
    root = nb.page.locator('[data-testid="nbchat"]').first
    expect(root).to_be_visible(timeout=20_000)

    send(nb, "What is a token?")
    send(nb, "How does streaming work?")
    expect(root.locator('.nbchat-msg[data-role="assistant"]')).to_have_count(2)

    toggle = root.locator('button[data-testid="usage-toggle"]')
    view = root.locator('[data-testid="usage-view"]')
    expect(toggle).to_have_text("Usage")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(view).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(view).to_be_visible()

    us = usages(nb)
    assert len(us) == 2, us
    summary = view.locator('[data-testid="usage-summary"]')
    expect(summary).to_contain_text("2 turns")
    assert numbers(summary.inner_text()) == expected_summary(us)
    chart = view.locator('[data-testid="usage-chart"]')
    expect(chart).to_have_attribute("aria-label", re.compile(r"for 2 turns"))
    expect(view.locator("canvas").first).to_be_visible()

    # hover the second bar: a DOM tooltip with that turn's numbers
    tip = hover_bar(nb, view, 1, 2)
    expect(tip).to_be_visible()
    expect(tip).to_have_attribute("data-turn", "2")
    u = us[1]
    cumulative = us[0]["total"] + u["total"]
    assert numbers(tip.inner_text()) == [2, u["prompt"], u["completion"], u["total"], cumulative]
    ARTIFACTS.mkdir(exist_ok=True)
    root.screenshot(path=str(ARTIFACTS / "usage-light.png"))

    tip = hover_bar(nb, view, 0, 2)
    expect(tip).to_have_attribute("data-turn", "1")
    assert numbers(tip.inner_text())[:4] == [
        1,
        us[0]["prompt"],
        us[0]["completion"],
        us[0]["total"],
    ]
    nb.page.mouse.move(1, 1)
    expect(tip).to_be_hidden()

    # a third reply: the open view follows without re-toggling
    send(nb, "Tell me a joke")
    expect(summary).to_contain_text("3 turns", timeout=20_000)
    expect(chart).to_have_attribute("aria-label", re.compile(r"for 3 turns"))
    us = usages(nb)
    assert len(us) == 3, us
    assert numbers(summary.inner_text()) == expected_summary(us)
    tip = hover_bar(nb, view, 2, 3)
    expect(tip).to_have_attribute("data-turn", "3")
    assert numbers(tip.inner_text()) == [
        3,
        us[2]["prompt"],
        us[2]["completion"],
        us[2]["total"],
        sum(x["total"] for x in us),
    ]
    nb.page.mouse.move(1, 1)

    # the dark theme: the chart re-reads the theme's colours
    nb.set_theme("dark")
    expect(nb.page.locator("#jupyterlab-splash")).to_have_count(0)  # the theme-change splash
    expect(view).to_be_visible()
    view.scroll_into_view_if_needed()
    root.screenshot(path=str(ARTIFACTS / "usage-dark.png"))
    nb.set_theme("light")

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(view).to_be_hidden()
    assert nb.relevant_errors() == []
