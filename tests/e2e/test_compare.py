"""Compare in real JupyterLab + Chromium: columns stream at once, blind votes, a failing column,
Stop, the hostile corpus in every column, and screenshots (wide, narrow, light, dark).

Prompts are typed into the widget's own composer and sent with its button, so each test goes
through the front end's intents; what the kernel recorded is read back from ``cmp.results()``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, NotebookPage

pytestmark = pytest.mark.timeout(300)

CORPUS_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "hostile.json"
CORPUS: list[dict[str, str]] = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))

SETUP = """\
import json, nbchat
server = nbchat.serve(tokens_per_second=0)
client = nbchat.Client(base_url=server.url + "/egp/v1", api_key="test", max_retries=0)
cmp = nbchat.Compare({columns}, client=client{extra})
cmp"""

ROOT = '[data-testid="compare"]'
# Records, per slot, whether its streaming reply showed text (before any commit replaced it).
WATCH = """() => {
    const root = document.querySelector('[data-testid="compare"]');
    window.__streamedText = {};
    new MutationObserver(() => {
        for (const col of root.querySelectorAll('[data-testid="column"]')) {
            const live = col.querySelector(
                '.nbchat-msg[data-streaming="true"] [data-testid="content"]');
            const text = live ? live.textContent : '';
            if (text && !live.querySelector('.nbchat-typing')) {
                window.__streamedText[col.dataset.slot] = text.length;
            }
        }
    }).observe(root, {childList: true, subtree: true, characterData: true});
}"""


def _open(notebook: NotebookPage, columns: str, extra: str = "", theme: str = "light") -> Any:
    notebook.open_notebook([SETUP.format(columns=columns, extra=extra)], theme=theme)
    out = notebook.cell_output(0)
    assert "Error" not in out and "Traceback" not in out, out
    root = notebook.page.locator(ROOT).first
    expect(root).to_be_visible(timeout=20_000)
    return root


def _send(root: Any, text: str) -> None:
    box = root.locator('[data-testid="composer"]')
    box.click()
    box.fill(text)
    root.locator('[data-testid="send"]').click()


def _wait_idle(root: Any, replies: int, timeout: int = 60_000) -> None:
    replies_ = root.locator('.nbchat-msg[data-role="assistant"]')
    expect(replies_).to_have_count(replies, timeout=timeout)
    expect(root.locator('.nbchat-msg[data-streaming="true"]')).to_have_count(0, timeout=timeout)
    expect(root).to_have_attribute("data-status", "idle", timeout=timeout)


def _results(notebook: NotebookPage, cols: str = "") -> list[dict[str, Any]]:
    out = notebook.add_and_run_cell(
        f"print(cmp.results(){cols}.to_json(orient='records', date_format='iso'))",
        timeout_ms=60_000,
    )
    try:
        line = next(x for x in out.splitlines() if x.startswith("["))
        rows: list[dict[str, Any]] = json.loads(line)
    except (json.JSONDecodeError, StopIteration):
        pytest.fail(f"results() failed: {out[-2000:]}", pytrace=False)
    return rows


def _column(root: Any, slot: int) -> Any:
    return root.locator(f'[data-testid="column"][data-slot="{slot}"]')


def test_three_columns_stream_and_finish(notebook: NotebookPage) -> None:
    root = _open(notebook, '["demo?tps=80", ("demo?tps=80", {"max_tokens": 25}), "echo?tps=80"]')
    labels = root.locator('[data-testid="column-label"]')
    expect(labels).to_have_text(["demo?tps=80", "demo?tps=80 · max_tokens=25", "echo?tps=80"])
    notebook.page.evaluate(WATCH)
    prompt = "How does streaming work? Tell me in a few sentences, please."
    _send(root, prompt)
    expect(root).to_have_attribute("data-status", "streaming")
    _wait_idle(root, 3)
    streamed = notebook.page.evaluate("() => window.__streamedText")
    assert set(streamed) == {"0", "1", "2"}, f"a column never showed streamed text: {streamed}"

    rows = _results(notebook)
    assert [r["status"] for r in rows] == ["complete"] * 3
    assert [r["prompt"] for r in rows] == [prompt] * 3
    assert rows[2]["content"] == prompt and rows[1]["finish_reason"] == "length"
    assert rows[0]["content"] != rows[1]["content"]
    for slot, r in enumerate(rows):
        col = _column(root, slot)
        reply = col.locator('.nbchat-msg[data-role="assistant"]')
        expect(reply).to_have_attribute("data-status", "complete")
        expect(col.locator('[data-testid="tokens-out"]')).to_have_text(str(r["completion_tokens"]))
        text = reply.locator('[data-testid="content"]').inner_text()
        # the words arrive in the page in full (markdown renders ** and _ away)
        assert text.split()[-1].strip("*_.!") in r["content"]
    expect(_column(root, 1).locator('[data-testid="finish"]')).to_have_text("length")
    root.screenshot(path=str(ARTIFACTS / "compare-wide-light.png"))
    assert notebook.relevant_errors() == []


def test_blind_mode_hides_reveals_and_records_a_vote(notebook: NotebookPage) -> None:
    root = _open(notebook, '["demo", "echo", ("demo", {"max_tokens": 5})]', extra=", blind=True")
    _send(root, "Which model am I talking to?")
    _wait_idle(root, 3)
    expect(root.locator('[data-testid="column-label"]')).to_have_text(["A", "B", "C"])
    expect(root.locator('[data-testid="column-model"]:visible')).to_have_count(0)
    # no head or footer names a model (the replies' own text may mention anything)
    expect(root.locator('[data-testid="model-name"]')).to_have_count(0)
    heads = " ".join(root.locator(".nbchat-col-head").all_inner_texts())
    assert "echo" not in heads and "demo" not in heads and "max_tokens" not in heads
    bar = root.locator('[data-testid="votebar"]')
    expect(bar).to_be_visible()
    root.screenshot(path=str(ARTIFACTS / "compare-blind-before-vote.png"))

    _column(root, 1).locator('[data-testid="vote-best"]').click()
    names = root.locator('[data-testid="column-model"]')
    expect(names.nth(1)).to_be_visible()
    expect(bar.locator('[data-testid="vote-text"]')).to_contain_text("You voted B")
    shown = [names.nth(i).inner_text() for i in range(3)]
    assert sorted(shown) == sorted(["demo", "echo", "demo · max_tokens=5"])
    root.screenshot(path=str(ARTIFACTS / "compare-blind-after-vote.png"))

    rows = {r["shown_as"]: r for r in _results(notebook)}
    assert rows["B"]["vote"] == "win" and rows["B"]["column"] == shown[1]
    assert rows["A"]["vote"] == rows["C"]["vote"] == "loss"
    out = notebook.add_and_run_cell(
        "b = cmp.leaderboard().set_index('column'); print(json.dumps(b['wins'].to_dict()))"
    )
    wins = json.loads(out.strip().splitlines()[-1])
    assert wins[shown[1]] == 1 and sum(wins.values()) == 1
    assert notebook.relevant_errors() == []


def test_a_failing_column_does_not_disturb_the_others(notebook: NotebookPage) -> None:
    root = _open(
        notebook,
        '["demo?tps=60", "demo?fault=500", "echo?fault=error-event&after=4&tps=60", "echo?tps=60"]',
    )
    prompt = "one two three four five six seven eight nine ten eleven twelve"
    _send(root, prompt)
    _wait_idle(root, 4)
    failed = _column(root, 1)
    expect(failed.locator('[data-testid="error"]')).to_contain_text("500")
    expect(failed.locator('.nbchat-msg[data-role="assistant"]')).to_have_attribute(
        "data-status", "error"
    )
    cut = _column(root, 2).locator('.nbchat-msg[data-role="assistant"]')
    expect(cut.locator('[data-testid="content"]')).to_contain_text("one two")
    rows = _results(notebook)
    assert [r["status"] for r in rows][:2] == ["complete", "error"]
    assert rows[2]["status"] in ("error", "interrupted") and rows[2]["error"]
    assert rows[3]["status"] == "complete" and rows[3]["content"] == prompt
    for slot in (0, 3):
        reply = _column(root, slot).locator('.nbchat-msg[data-role="assistant"]')
        expect(reply).to_have_attribute("data-status", "complete")
        expect(_column(root, slot).locator('[data-testid="error"]')).to_have_count(0)
    expect(_column(root, 3).locator('[data-testid="content"]').last).to_have_text(prompt)
    # Retry re-asks the failed column only; it still fails (the fault is in its model name)
    _column(root, 1).locator('[data-testid="error"] [data-action="retry"]').click()
    expect(failed.locator('[data-testid="error"]')).to_contain_text("500")
    _wait_idle(root, 4)
    assert notebook.relevant_errors() == []


def test_stop_stops_every_column(notebook: NotebookPage) -> None:
    root = _open(notebook, '["demo?tps=12", "echo?tps=12", ("demo?tps=12", {"max_tokens": 400})]')
    notebook.page.evaluate(WATCH)
    _send(root, "Tell me everything about how streaming works, at length, step by step. " * 3)
    notebook.page.wait_for_function(
        "() => Object.keys(window.__streamedText).length === 3", timeout=30_000
    )
    root.locator('[data-testid="stop"]').click()
    _wait_idle(root, 3, timeout=15_000)
    expect(root.locator('.nbchat-msg[data-role="assistant"][data-status="stopped"]')).to_have_count(
        3
    )
    rows = _results(notebook)
    assert [r["status"] for r in rows] == ["stopped"] * 3
    assert all(r["content"] for r in rows)
    expect(root.locator('[data-testid="send"]')).to_be_enabled()
    assert notebook.relevant_errors() == []


INSPECT = """() => {
    const root = document.querySelector('[data-testid="compare"]');
    const forbidden = 'script,iframe,frame,object,embed,form,meta,base,link,style,img,svg,math';
    const inCols = root.querySelector('[data-testid="columns"]');
    const elements = Array.from(inCols.querySelectorAll(forbidden))
        .filter((e) => !e.closest('.nbchat-icon-btn'))
        .map((e) => e.outerHTML.slice(0, 200));
    const handlers = [];
    for (const el of [root, ...root.querySelectorAll('*')]) {
        for (const a of el.attributes) {
            if (/^on/i.test(a.name)) handlers.push(el.tagName + ' ' + a.name);
        }
    }
    const links = Array.from(root.querySelectorAll('a')).map((a) => ({
        href: a.getAttribute('href'), target: a.getAttribute('target'), rel: a.getAttribute('rel'),
    }));
    const columns = Array.from(root.querySelectorAll('[data-testid="column"]')).map((c) =>
        Array.from(c.querySelectorAll('.nbchat-msg[data-role="assistant"]')).map((m) => ({
            status: m.dataset.status,
            text: m.querySelector('[data-testid="content"]').textContent,
        })));
    return {elements, handlers, links, columns,
            pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
            alive: window.__hostileAlive || null, seen: window.__hostileSeen};
}"""

WATCH_HOSTILE = """() => {
    const root = document.querySelector('[data-testid="compare"]');
    const BAD = new Set(['SCRIPT', 'IFRAME', 'FRAME', 'OBJECT', 'EMBED', 'FORM', 'META', 'BASE',
        'LINK', 'STYLE', 'IMG', 'MATH', 'VIDEO', 'AUDIO', 'SOURCE', 'TEMPLATE', 'XMP',
        'NOSCRIPT', 'MARQUEE', 'BODY']);
    window.__hostileSeen = [];
    const seen = (what) => {
        if (window.__hostileSeen.length < 200) window.__hostileSeen.push(what);
    };
    const check = (el) => {
        if (el.nodeType !== 1) return;
        for (const node of [el, ...el.querySelectorAll('*')]) {
            const inIcon = node.closest && node.closest('.nbchat-icon-btn');
            if (BAD.has(node.nodeName.toUpperCase()) || (node.nodeName.toUpperCase() === 'SVG'
                && !inIcon)) seen('element ' + node.nodeName);
            for (const a of node.attributes) if (/^on/i.test(a.name)) seen('attribute ' + a.name);
        }
    };
    new MutationObserver((records) => {
        for (const r of records) {
            if (r.type === 'attributes' && /^on/i.test(r.attributeName || '')) seen('attribute');
            for (const n of r.addedNodes) check(n);
        }
    }).observe(root, {childList: true, subtree: true, attributes: true});
    window.__hostileAlive = 'alive';
}"""

RUN_CORPUS = """\
corpus = json.load(open({path!r}, encoding="utf-8"))
problems = []
for entry in corpus:
    replies = cmp.send(entry["payload"]).wait(60)
    problems += [(k, entry["id"], r.status) for k, r in replies.items() if r.status != "complete"]
print(json.dumps(problems))
"""


def test_hostile_corpus_stays_inert_in_every_column(notebook: NotebookPage) -> None:
    page = notebook.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    evil: list[str] = []
    page.on("request", lambda r: evil.append(r.url) if "evil.invalid" in r.url else None)
    cps = 600
    cols = ", ".join(f'"echo?split={n}&tps={cps / n:g}"' for n in (1, 7, 13))
    root = _open(notebook, f"[{cols}]")
    page.evaluate(WATCH_HOSTILE)
    url_before = page.url
    out = notebook.add_and_run_cell(RUN_CORPUS.format(path=str(CORPUS_PATH)), timeout_ms=240_000)
    assert json.loads(out.strip().splitlines()[-1]) == [], out
    _wait_idle(root, 3 * len(CORPUS))
    page.wait_for_timeout(1500)  # let any onerror/onload handler fire
    state = page.evaluate(INSPECT)
    assert state["pwned"] is None and dialogs == [] and evil == []
    assert state["alive"] == "alive" and page.url == url_before
    assert state["elements"] == [] and state["handlers"] == [] and state["seen"] == []
    for link in state["links"]:
        assert link["target"] == "_blank" and "noopener" in (link["rel"] or ""), link
        assert link["href"] is None or link["href"].startswith(("http://", "https://", "mailto:"))
    for slot, replies in enumerate(state["columns"]):
        assert len(replies) == len(CORPUS), slot
        unreadable = [
            e["id"]
            for e, r in zip(CORPUS, replies, strict=True)
            if r["status"] != "complete" or e["visible"] not in r["text"]
        ]
        assert unreadable == [], f"column {slot}: {unreadable}"
    rows = _results(notebook, "[['content']]")
    assert [r["content"] for r in rows] == [e["payload"] for e in CORPUS for _ in range(3)]
    assert notebook.relevant_errors() == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_narrow_columns_become_rows_and_scroll_on_their_own(
    notebook: NotebookPage, theme: str
) -> None:
    root = _open(
        notebook,
        '["demo?tps=25", ("demo?tps=25", {"max_tokens": 40}), "echo?tps=25"]',
        theme=theme,
    )
    boxes = [_column(root, i).bounding_box() for i in range(3)]
    assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    # the file browser closed, the notebook is about 480 px wide: below the 700 px breakpoint
    notebook.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    notebook.page.set_viewport_size({"width": 600, "height": 1100})
    notebook.page.wait_for_timeout(300)
    notebook.page.evaluate(WATCH)
    _send(root, "How does streaming work? Please explain it with a list and some code. " * 2)
    notebook.page.wait_for_function(
        "() => Object.keys(window.__streamedText).length === 3", timeout=30_000
    )
    boxes = [_column(root, i).bounding_box() for i in range(3)]
    assert boxes[0]["x"] == boxes[1]["x"] == boxes[2]["x"]
    assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"]
    assert all(300 < b["width"] < 600 for b in boxes)
    # each column's list is its own scroller
    overflow = root.locator('[data-testid="column"] [data-testid="messages"]').evaluate_all(
        "(els) => els.map((e) => getComputedStyle(e).overflowY)"
    )
    assert overflow == ["auto"] * 3
    root.screenshot(path=str(ARTIFACTS / f"compare-600-streaming-{theme}.png"))
    root.locator('[data-testid="stop"]').click()
    _wait_idle(root, 3)
    assert notebook.relevant_errors() == []


LIVE_TEXTS = """() => Array.from(document.querySelectorAll(
    '[data-testid="compare"] [data-testid="column"]')).map((c) => {
        const m = c.querySelector('.nbchat-msg[data-streaming="true"] [data-testid="content"]');
        return m ? m.textContent : null;
    })"""


@pytest.mark.usefixtures("comms_without_subshells")
def test_reload_mid_stream_catches_up_in_every_column(notebook: NotebookPage) -> None:
    """A reloaded page asks for a snapshot of every streaming column and keeps streaming."""
    root = _open(notebook, '["demo?tps=10", "echo?tps=10", ("demo?tps=10", {"max_tokens": 300})]')
    # echo repeats the prompt: ~140 tokens, 14 s; the demo replies take longer
    _send(root, "Tell me everything about how streaming works, at length, step by step. " * 8)
    notebook.page.wait_for_function(
        f"() => ({LIVE_TEXTS})().every((t) => t && t.length > 30)", timeout=30_000
    )
    before = notebook.page.evaluate(LIVE_TEXTS)
    notebook.page.evaluate("() => { void window.jupyterapp.commands.execute('docmanager:save'); }")
    notebook.page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.context.model.dirty === false"
    )
    notebook.reload()
    root = notebook.page.locator(ROOT).first
    expect(root).to_be_visible(timeout=20_000)
    # each column shows at least what it showed before (the snapshot), then more
    notebook.page.wait_for_function(
        f"""(before) => ({LIVE_TEXTS})().every(
            (t, i) => t && t.length > before[i].length)""",
        arg=before,
        timeout=30_000,
    )
    now = notebook.page.evaluate(LIVE_TEXTS)
    for b, n in zip(before, now, strict=True):
        assert n.startswith(b[:20]), (b[:40], n[:40])
    root.locator('[data-testid="stop"]').click()
    _wait_idle(root, 3, timeout=15_000)
    rows = _results(notebook)
    assert [r["status"] for r in rows] == ["stopped"] * 3
    for slot, r in enumerate(rows):
        shown = _column(root, slot).locator('[data-testid="content"]').last.inner_text()
        assert shown.split()[:4] == r["content"].replace("**", "").split()[:4]
    assert notebook.relevant_errors() == []


@pytest.mark.parametrize("jupyter_server", ["notebook"], indirect=True)
def test_three_columns_in_notebook7(notebook: NotebookPage) -> None:
    root = _open(notebook, '["demo?tps=100", ("demo?tps=100", {"max_tokens": 20}), "echo"]')
    _send(root, "What is a token?")
    _wait_idle(root, 3)
    rows = _results(notebook)
    assert [r["status"] for r in rows] == ["complete"] * 3
    expect(_column(root, 2).locator('[data-testid="content"]').last).to_have_text(
        "What is a token?"
    )
    assert notebook.relevant_errors() == []
