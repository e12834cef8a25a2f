"""A corpus of hostile replies streamed into one panel in real Chromium, split at awkward places.

Every entry of ``tests/fixtures/hostile.json`` (``id``, ``name``, ``payload``, ``visible``) would
set ``window.__pwned = "<id>"`` (or navigate, or open a dialog) if any part of it ever ran. The
echo model replies with the payload verbatim; ``split=N`` makes the server cut it into pieces of
N characters, and a slow ``tps`` makes the worker flush several deltas per reply, so the browser
renders the payload cut inside tags, attributes and code fences.

All replies go into one panel (one kernel cell loops over splits x corpus). Afterwards:
nothing ran (``window.__pwned``, dialogs, navigation, requests to ``evil.invalid``), no dangerous
element or ``on*`` attribute is in the panel (nor was, at any moment: a MutationObserver records
transient ones), links are ``target=_blank rel=noopener noreferrer`` with an http(s)/mailto href
or none, each reply's text shows the entry's ``visible`` fragment, and the kernel kept every
payload byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import NotebookPage

pytestmark = pytest.mark.timeout(420)

CORPUS_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "hostile.json"
CORPUS: list[dict[str, str]] = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))
SPLITS = (1, 3, 7, 13)
CHARS_PER_SECOND = 600  # each reply streams over several 40 ms flushes: deltas split it too

SETUP = """\
import json, nbchat
server = nbchat.serve(tokens_per_second=0)
chat = nbchat.ChatPanel(
    client=nbchat.Client(base_url=server.url + "/egp/v1", api_key="test"), model="echo"
)
chat"""

RUN_ALL = """\
import json
corpus = json.load(open({path!r}, encoding="utf-8"))
problems = []
for n in {splits!r}:
    chat.model = f"echo?split={{n}}&tps={{{cps} / n:g}}"
    for entry in corpus:
        reply = chat.send(entry["payload"]).wait(60)
        if reply.status != "complete":
            problems.append((n, entry["id"], reply.status, reply.error))
print(json.dumps({{"problems": problems, "messages": len(chat.messages)}}))
"""

# Installed before anything streams: records what a payload could do even transiently.
WATCH = """() => {
    const root = document.querySelector('[data-testid="nbchat"]');
    const list = root.querySelector('[data-testid="messages"]');
    const BAD = new Set(['SCRIPT', 'IFRAME', 'FRAME', 'OBJECT', 'EMBED', 'FORM', 'META', 'BASE',
        'LINK', 'STYLE', 'IMG', 'SVG', 'MATH', 'VIDEO', 'AUDIO', 'SOURCE', 'TEMPLATE', 'XMP',
        'NOSCRIPT', 'MARQUEE', 'BODY']);
    window.__hostileSeen = [];
    window.__hostileAdded = 0;
    const seen = (what) => {
        if (window.__hostileSeen.length < 200) window.__hostileSeen.push(what);
    };
    const check = (el) => {
        if (el.nodeType !== 1) return;
        for (const node of [el, ...el.querySelectorAll('*')]) {
            // the panel's own chrome (icon buttons are SVG) is not model output
            const inText = node.closest('[data-testid="content"]');
            if (inText && BAD.has(node.nodeName.toUpperCase())) seen('element ' + node.nodeName);
            for (const a of node.attributes) {
                if (/^on/i.test(a.name)) seen('attribute ' + node.nodeName + ' ' + a.name);
            }
        }
    };
    new MutationObserver((records) => {
        for (const r of records) {
            if (r.type === 'attributes' && /^on/i.test(r.attributeName || '')) {
                seen('attribute ' + r.target.nodeName + ' ' + r.attributeName);
            }
            for (const n of r.addedNodes) { window.__hostileAdded += 1; check(n); }
        }
    }).observe(list, {childList: true, subtree: true, attributes: true});
    window.__hostileAlive = 'alive';
}"""

INSPECT = """() => {
    const root = document.querySelector('[data-testid="nbchat"]');
    const forbidden = 'script,iframe,frame,object,embed,form,meta,base,link,style';
    const elements = Array.from(root.querySelectorAll(forbidden))
        .map((e) => e.outerHTML.slice(0, 200));
    const handlers = [];
    for (const el of [root, ...root.querySelectorAll('*')]) {
        for (const a of el.attributes) {
            if (/^on/i.test(a.name)) handlers.push(el.tagName + ' ' + a.name + '=' + a.value);
        }
    }
    const links = Array.from(root.querySelectorAll('a')).map((a) => ({
        href: a.getAttribute('href'), target: a.getAttribute('target'), rel: a.getAttribute('rel'),
        text: a.textContent.slice(0, 80),
    }));
    const msgs = Array.from(root.querySelectorAll('[data-testid="messages"] .nbchat-msg'));
    const replies = msgs.filter((m) => m.dataset.role === 'assistant').map((m) => {
        const c = m.querySelector('[data-testid="content"]');
        return {status: m.dataset.status, text: c ? c.textContent : null};
    });
    return {elements, handlers, links, replies, users: msgs.length - replies.length,
            pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
            alive: window.__hostileAlive || null, seen: window.__hostileSeen,
            added: window.__hostileAdded,
            location: window.location.href};
}"""


def test_corpus_is_well_formed() -> None:
    assert len(CORPUS) >= 30
    ids = [e["id"] for e in CORPUS]
    assert len(set(ids)) == len(ids)
    for e in CORPUS:
        assert e["visible"] in e["payload"], e["id"]
        # it would set window.__pwned (maybe base64-encoded), navigate to evil.invalid, or alert
        assert any(
            t in e["payload"] for t in ("__pwned", "evil.invalid", "alert(", "msgbox(", "base64,")
        ), e


def test_hostile_corpus_stays_inert_at_every_split(notebook: NotebookPage) -> None:
    page = notebook.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
    navigations: list[str] = []
    evil_requests: list[str] = []
    popups: list[str] = []
    page.context.on("page", lambda p: popups.append(p.url))
    page.on(
        "request",
        lambda r: (
            evil_requests.append(r.url)
            if "evil.invalid" in r.url or r.url.startswith(("javascript:", "data:text/html"))
            else None
        ),
    )

    notebook.open_notebook([SETUP])
    out = notebook.cell_output(0)
    assert "Error" not in out and "Traceback" not in out, out
    root = page.locator('[data-testid="nbchat"]').first
    expect(root).to_be_visible(timeout=20_000)
    page.evaluate(WATCH)
    url_before = page.url
    page.on(
        "framenavigated",
        lambda f: (
            navigations.append(f.url) if f == page.main_frame and f.url != url_before else None
        ),
    )

    code = RUN_ALL.format(path=str(CORPUS_PATH), splits=SPLITS, cps=CHARS_PER_SECOND)
    out = notebook.add_and_run_cell(code, timeout_ms=360_000)
    try:
        summary = json.loads(out.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        pytest.fail(f"the streaming cell failed: {out[-3000:]}", pytrace=False)
    total = len(SPLITS) * len(CORPUS)
    assert summary["problems"] == [], summary["problems"]
    assert summary["messages"] == 2 * total

    expect(root.locator('.nbchat-msg[data-role="assistant"]')).to_have_count(total, timeout=60_000)
    expect(root.locator('.nbchat-msg[data-streaming="true"]')).to_have_count(0, timeout=30_000)
    page.wait_for_timeout(1500)  # let any onerror/onload/ontoggle/animation handler fire
    state: dict[str, Any] = page.evaluate(INSPECT)
    print(
        f"hostile corpus: {len(CORPUS)} payloads x {len(SPLITS)} splits {SPLITS} = {total} "
        f"replies; {state['added']} nodes observed, {len(state['links'])} links checked"
    )
    assert state["added"] > 2 * total, "the MutationObserver saw nothing: it watches the wrong node"

    # nothing executed, opened or navigated
    assert state["pwned"] is None, f"payload {state['pwned']!r} executed (window.__pwned)"
    assert dialogs == [], f"dialogs opened: {dialogs}"
    assert state["alive"] == "alive", "the page was reloaded or navigated (its JS state is gone)"
    assert page.url == url_before and state["location"] == url_before, page.url
    assert navigations == [], f"main frame navigated: {navigations}"
    assert popups == [], f"windows opened: {popups}"
    assert evil_requests == [], f"requests a payload made: {evil_requests}"

    # nothing dangerous in the DOM, now or at any moment while streaming
    assert state["elements"] == [], f"forbidden elements in the panel: {state['elements']}"
    assert state["handlers"] == [], f"on* attributes in the panel: {state['handlers']}"
    assert state["seen"] == [], f"dangerous nodes appeared while streaming: {state['seen']}"
    for link in state["links"]:
        rel = (link["rel"] or "").split()
        assert link["target"] == "_blank", link
        assert "noopener" in rel and "noreferrer" in rel, link
        href = link["href"]
        assert href is None or href.startswith(("http://", "https://", "mailto:")), link

    # the text stays readable: each reply shows its entry's visible fragment
    replies = state["replies"]
    assert len(replies) == total and state["users"] == total
    expected = [(n, e) for n in SPLITS for e in CORPUS]
    unreadable = [
        f"split={n} {e['id']}: {e['visible']!r} not in {r['text']!r}"
        for (n, e), r in zip(expected, replies, strict=True)
        if r["status"] != "complete" or e["visible"] not in (r["text"] or "")
    ]
    assert unreadable == [], "\n".join(unreadable)

    # the kernel kept every payload exactly
    out = notebook.add_and_run_cell(
        "print(json.dumps([m['content'] for m in chat.messages if m['role'] == 'assistant']))"
    )
    contents = json.loads(out)
    mismatched = [
        f"split={n} {e['id']}"
        for (n, e), c in zip(expected, contents, strict=True)
        if c != e["payload"]
    ]
    assert mismatched == [], f"the kernel's text differs from the payload: {mismatched}"
    assert notebook.relevant_errors() == []
