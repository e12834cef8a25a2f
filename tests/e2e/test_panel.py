"""The chat panel in a real JupyterLab (and Notebook 7) in headless Chromium.

Each test opens its own notebook whose first cell starts the embedded demo server and displays a
``ChatPanel``; the kernel is shut down after the test (the ``notebook`` fixture). The DOM contract
(``data-testid`` names, ``.nbchat-msg`` attributes) is the one the front end promises.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from .conftest import ARTIFACTS, NotebookPage

pytestmark = pytest.mark.timeout(150)

STREAM_TIMEOUT_MS = 30_000

SETUP = """\
import json, nbchat
server = nbchat.serve(tokens_per_second={tps})
chat = nbchat.ChatPanel(
    client=nbchat.Client(base_url=server.url + "/egp/v1", api_key="test"),
    model={model!r},
)
chat"""

SLOW_MODEL = "demo?tps=20"  # the reply to "How does streaming work?" is ~290 pieces: ~14 s
STREAMING_QUESTION = "How does streaming work?"


class Panel:
    """Drives one rendered chat panel."""

    def __init__(self, nb: NotebookPage) -> None:
        self.nb = nb
        self.page = nb.page
        self.root: Locator = nb.page.locator('[data-testid="nbchat"]').first

    # -- locators

    def messages(self, role: str | None = None) -> Locator:
        sel = ".nbchat-msg" if role is None else f'.nbchat-msg[data-role="{role}"]'
        return self.root.locator(f'[data-testid="messages"] {sel}')

    def last(self, role: str = "assistant") -> Locator:
        return self.messages(role).last

    def content(self, msg: Locator) -> Locator:
        return msg.locator('[data-testid="content"]').first

    def streaming(self) -> Locator:
        return self.root.locator('.nbchat-msg[data-streaming="true"]')

    @property
    def composer(self) -> Locator:
        return self.root.locator('textarea[data-testid="composer"]')

    # -- actions

    def type_and_enter(self, text: str) -> None:
        self.composer.click()
        self.composer.fill(text)
        self.composer.press("Enter")

    def wait_streaming(self) -> Locator:
        msg = self.streaming()
        expect(msg).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
        return msg.first

    def wait_idle(self, timeout_ms: int = STREAM_TIMEOUT_MS) -> None:
        expect(self.streaming()).to_have_count(0, timeout=timeout_ms)
        expect(self.root.locator('[data-testid="send"]')).to_be_visible(timeout=timeout_ms)

    def start_length_probe(self) -> None:
        """Record the streaming message's text length every ~20 ms, in the page, until it ends."""
        self.page.evaluate(
            """(timeoutMs) => {
                window.__nbchatProbe = (async () => {
                    const root = document.querySelector('[data-testid="nbchat"]');
                    const lengths = [];
                    let seen = false;
                    const t0 = performance.now();
                    while (performance.now() - t0 < timeoutMs) {
                        const m = root.querySelector('.nbchat-msg[data-streaming="true"]');
                        if (m) {
                            seen = true;
                            const c = m.querySelector('[data-testid="content"]');
                            lengths.push(c ? c.textContent.length : -1);
                        } else if (seen) {
                            break;
                        }
                        await new Promise((r) => setTimeout(r, 20));
                    }
                    return {lengths, seen};
                })();
            }""",
            STREAM_TIMEOUT_MS,
        )

    def probe_result(self) -> dict[str, Any]:
        return self.page.evaluate("() => window.__nbchatProbe")


def open_panel(nb: NotebookPage, model: str = "echo", tps: float = 40, **kw: Any) -> Panel:
    nb.open_notebook([SETUP.format(model=model, tps=tps)], **kw)
    out = nb.cell_output(0)
    if "Error" in out or "Traceback" in out:
        pytest.fail(f"the setup cell failed: {out}", pytrace=False)
    panel = Panel(nb)
    expect(panel.root).to_be_visible(timeout=20_000)
    expect(panel.composer).to_be_visible()
    return panel


def py_messages(nb: NotebookPage) -> list[dict[str, Any]]:
    out = nb.add_and_run_cell("print(json.dumps(chat.messages))")
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        pytest.fail(f"could not read chat.messages: {out[:2000]}", pytrace=False)


def plain(text: str) -> str:
    """Markdown source or rendered text reduced to its words, for comparing the two."""
    return " ".join(re.sub(r"[*_`#>]", " ", text).split())


def has_number(text: str) -> bool:
    return bool(re.search(r"\d", text)) and "—" not in text


# --------------------------------------------------------------------------- tests


def test_send_streams_incrementally_and_footer_shows_usage(notebook: NotebookPage) -> None:
    panel = open_panel(notebook, model="echo", tps=30)
    text = " ".join(f"word{i}" for i in range(40))  # 40 pieces at 30/s: about 1.3 s of streaming

    panel.start_length_probe()
    panel.type_and_enter(text)
    probe = panel.probe_result()
    assert probe["seen"], "no message with data-streaming='true' appeared"
    distinct = sorted({n for n in probe["lengths"] if n > 0})
    assert len(distinct) >= 5, f"the reply did not grow incrementally: lengths {probe['lengths']}"
    assert distinct == sorted(distinct) and probe["lengths"][-1] <= len(text)
    panel.wait_idle()

    reply = panel.last("assistant")
    expect(reply).to_have_attribute("data-status", "complete")
    assert panel.content(reply).inner_text().strip() == text
    expect(panel.content(panel.last("user"))).to_have_text(text)
    expect(panel.composer).to_have_value("")

    msgs = py_messages(notebook)
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert msgs[-1]["content"] == text
    assert msgs[-1]["status"] == "complete"
    usage = msgs[-1]["usage"]
    assert usage and usage["completion"] and usage["prompt"]

    tokens_in = panel.root.locator('[data-testid="tokens-in"]').last
    tokens_out = panel.root.locator('[data-testid="tokens-out"]').last
    for loc in (tokens_in, tokens_out, panel.root.locator('[data-testid="ttft"]').last):
        expect(loc).to_be_visible()
        assert has_number(loc.inner_text()), f"footer value not a number: {loc.inner_text()!r}"
    assert str(usage["prompt"]) in tokens_in.inner_text()
    assert str(usage["completion"]) in tokens_out.inner_text()
    expect(panel.root.locator('[data-testid="finish"]').last).to_contain_text("stop")
    assert notebook.relevant_errors() == []


@pytest.mark.parametrize("how", ["click", "escape"])
def test_stop_keeps_partial_reply_and_next_send_is_clean(notebook: NotebookPage, how: str) -> None:
    panel = open_panel(notebook, model=SLOW_MODEL)
    panel.type_and_enter(STREAMING_QUESTION)
    panel.wait_streaming()
    expect(panel.root.locator('[data-testid="stop"]')).to_be_visible()
    # let a few pieces arrive
    notebook.page.wait_for_function(
        """() => {
            const m = document.querySelector(
                '.nbchat-msg[data-streaming="true"] [data-testid="content"]');
            return m && m.textContent.length > 20;
        }""",
        timeout=STREAM_TIMEOUT_MS,
    )
    if how == "click":
        panel.root.locator('[data-testid="stop"]').click()
    else:
        panel.composer.focus()
        panel.composer.press("Escape")
    panel.wait_idle(timeout_ms=10_000)

    stopped = panel.last("assistant")
    expect(stopped).to_have_attribute("data-status", "stopped")
    partial = panel.content(stopped).inner_text().strip()
    assert partial, "the partial reply was not kept"
    assert stopped.get_attribute("data-id")

    # the next send works and carries nothing of the stopped reply
    notebook.add_and_run_cell("chat.model = 'echo?tps=500'")
    second = "second message after stop"
    panel.type_and_enter(second)
    expect(panel.messages("assistant")).to_have_count(2, timeout=STREAM_TIMEOUT_MS)
    panel.wait_idle()
    last = panel.last("assistant")
    expect(last).to_have_attribute("data-status", "complete")
    assert panel.content(last).inner_text().strip() == second
    # the stopped reply is unchanged
    first = panel.messages("assistant").first
    expect(first).to_have_attribute("data-status", "stopped")
    assert panel.content(first).inner_text().strip() == partial

    msgs = py_messages(notebook)
    assert [(m["role"], m["status"]) for m in msgs] == [
        ("user", "complete"),
        ("assistant", "stopped"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    # the kept text is what the kernel kept (the DOM shows it rendered as markdown)
    assert msgs[1]["content"].strip()
    assert plain(msgs[1]["content"]) == plain(partial)
    assert msgs[3]["content"] == second
    assert notebook.relevant_errors() == []


HOSTILE = [
    ("p1", "<script>window.__pwned=1</script>"),
    ("p2", '<img src=x onerror="window.__pwned=1">'),
    ("p3", "[click me](javascript:window.__pwned=1)"),
    ("p4", "<svg onload=\"window.__pwned=1\"><circle r='5'/></svg>"),
    ("p5", '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>'),
    ("p6", '<a href="https://example.invalid/x" target="_blank">plain link</a>'),
    ("p7", "[md link](https://example.invalid/y)"),
]


def test_hostile_payloads_are_inert(notebook: NotebookPage) -> None:
    panel = open_panel(notebook, model="echo?tps=5000")
    text = "\n\n".join(f"label-{k}: {v}" for k, v in HOSTILE)
    panel.type_and_enter(text)
    expect(panel.messages("assistant")).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    panel.wait_idle()
    notebook.page.wait_for_timeout(1000)  # give onerror/onload handlers a chance to fire

    assert notebook.page.evaluate("() => window.__pwned") is None
    assert notebook.page.evaluate("() => typeof window.__pwned") == "undefined"
    for tag in ("script", "iframe", "object", "embed", "frame", "svg[onload]", "img[onerror]"):
        assert panel.root.locator(tag).count() == 0, f"<{tag}> inside the panel"
    handlers = notebook.page.evaluate(
        """() => {
            const root = document.querySelector('[data-testid="nbchat"]');
            const bad = [];
            for (const el of root.querySelectorAll('*')) {
                for (const a of el.attributes) {
                    if (/^on/i.test(a.name)) bad.push(el.tagName + ' ' + a.name);
                    const url = /^(href|src|xlink:href|action|formaction)$/i.test(a.name);
                    if (url && /^\\s*javascript:/i.test(a.value)) {
                        bad.push(el.tagName + ' ' + a.name + '=' + a.value);
                    }
                }
            }
            return bad;
        }"""
    )
    assert handlers == [], f"live handlers or javascript: URLs in the panel: {handlers}"
    links = panel.root.locator("a")
    for i in range(links.count()):
        rel = (links.nth(i).get_attribute("rel") or "").split()
        assert "noopener" in rel and "noreferrer" in rel, f"link {i} rel={rel}"
    reply = panel.content(panel.last("assistant")).inner_text()
    for k, _ in HOSTILE:
        assert f"label-{k}" in reply, f"label-{k} is not readable in the reply: {reply!r}"
    assert "click me" in reply and "plain link" in reply and "md link" in reply
    msgs = py_messages(notebook)
    assert msgs[-1]["content"] == text
    assert notebook.relevant_errors() == []


@pytest.mark.usefixtures("comms_without_subshells")
def test_conversation_survives_reload(notebook: NotebookPage) -> None:
    panel = open_panel(notebook, model="echo?tps=500")
    for text in ("first question", "second question"):
        panel.type_and_enter(text)
        panel.wait_idle()
    expect(panel.messages()).to_have_count(4)
    notebook.wait_for_transcript("second question")  # its refresh would dirty the notebook
    # A person saves before reloading; without a save (autosave is off) the notebook on disk
    # has no output to show the widget in.
    notebook.page.evaluate("() => { void window.jupyterapp.commands.execute('docmanager:save'); }")
    notebook.page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.context.model.dirty === false"
    )
    notebook.reload()
    panel = Panel(notebook)
    expect(panel.root).to_be_visible(timeout=20_000)
    expect(panel.messages()).to_have_count(4, timeout=20_000)
    roles = [panel.messages().nth(i).get_attribute("data-role") for i in range(4)]
    assert roles == ["user", "assistant", "user", "assistant"]
    texts = [panel.content(panel.messages().nth(i)).inner_text().strip() for i in range(4)]
    assert texts == ["first question", "first question", "second question", "second question"]
    # and the panel still works
    panel.type_and_enter("third question")
    expect(panel.messages()).to_have_count(6, timeout=STREAM_TIMEOUT_MS)
    panel.wait_idle()
    assert panel.content(panel.last("assistant")).inner_text().strip() == "third question"
    assert notebook.relevant_errors() == []


def test_other_cells_run_while_a_reply_streams(notebook: NotebookPage) -> None:
    panel = open_panel(notebook, model=SLOW_MODEL)
    panel.type_and_enter(STREAMING_QUESTION)
    panel.wait_streaming()
    idx = notebook.add_cell("print('side cell', 6 * 7)")
    notebook.wait_for_execution(idx, timeout_ms=10_000)
    assert notebook.cell_output(idx).strip() == "side cell 42"
    # the reply is still streaming: the cell did not wait for it
    assert panel.streaming().count() == 1, "the reply ended before the side cell finished"
    # the reply still goes on growing afterwards
    n0 = len(panel.content(panel.streaming().first).inner_text())
    notebook.page.wait_for_function(
        """(n0) => {
            const m = document.querySelector(
                '.nbchat-msg[data-streaming="true"] [data-testid="content"]');
            return !m || m.textContent.length > n0;
        }""",
        arg=n0,
        timeout=10_000,
    )
    panel.root.locator('[data-testid="stop"]').click()
    panel.wait_idle(timeout_ms=10_000)
    assert notebook.relevant_errors() == []


def test_fast_stream_of_20000_characters_arrives_whole(notebook: NotebookPage) -> None:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < 20_000:
        words.append(f"t{len(words)}" + ("," if len(words) % 7 == 6 else ""))
    text = " ".join(words)
    panel = open_panel(notebook, model="echo?tps=5000")
    notebook.add_and_run_cell(
        "words = []\n"
        "while sum(len(w) + 1 for w in words) < 20_000:\n"
        "    words.append(f't{len(words)}' + (',' if len(words) % 7 == 6 else ''))\n"
        "text = ' '.join(words)\n"
        f"assert len(text) == {len(text)}\n"
        "chat.send(text)"
    )
    expect(panel.messages("assistant")).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    panel.wait_idle(timeout_ms=60_000)
    reply = panel.last("assistant")
    expect(reply).to_have_attribute("data-status", "complete")
    dom_text = panel.content(reply).inner_text().strip()
    assert len(dom_text) == len(text), f"DOM has {len(dom_text)} of {len(text)} characters"
    assert dom_text == text
    msgs = py_messages(notebook)
    assert msgs[-1]["content"] == text and msgs[-1]["status"] == "complete"
    assert notebook.relevant_errors() == []


@pytest.mark.parametrize("jupyter_server", ["notebook"], indirect=True)
def test_panel_in_notebook7(notebook: NotebookPage) -> None:
    panel = open_panel(notebook, model="echo", tps=50)
    panel.start_length_probe()
    panel.type_and_enter("hello from notebook seven with a few more words to stream")
    probe = panel.probe_result()
    assert probe["seen"] and len({n for n in probe["lengths"] if n > 0}) >= 3, probe
    panel.wait_idle()
    reply = panel.last("assistant")
    expect(reply).to_have_attribute("data-status", "complete")
    assert (
        panel.content(reply).inner_text().strip()
        == "hello from notebook seven with a few more words to stream"
    )
    assert has_number(panel.root.locator('[data-testid="tokens-out"]').last.inner_text())
    assert notebook.relevant_errors() == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshot_for_humans(notebook: NotebookPage, theme: str) -> None:
    panel = open_panel(notebook, model="demo", tps=2000, theme=theme)
    # give the panel the room of the main area (the file browser is not what we look at)
    notebook.page.evaluate(
        "() => { window.jupyterapp.shell.collapseLeft && window.jupyterapp.shell.collapseLeft(); }"
    )
    panel.type_and_enter(STREAMING_QUESTION)
    expect(panel.messages("assistant")).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
    panel.wait_idle()
    expect(panel.last("assistant")).to_have_attribute("data-status", "complete")
    content = panel.content(panel.last("assistant"))
    expect(content.locator("pre code")).to_have_count(1)  # the fenced python block
    expect(content.locator("strong").first).to_be_visible()
    panel.root.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    panel.root.screenshot(path=str(ARTIFACTS / f"panel-{theme}.png"))
    notebook.page.screenshot(path=str(ARTIFACTS / f"page-{theme}.png"))
    # the start of the conversation too (the message list scrolls)
    panel.root.locator('[data-testid="messages"]').evaluate("(el) => { el.scrollTop = 0; }")
    panel.root.screenshot(path=str(ARTIFACTS / f"panel-{theme}-top.png"))
    assert notebook.relevant_errors() == []
