"""The static transcript under the panel (issue 11 item 4): sanitized, complete, key-free,
refreshed when a turn ends (not per token), and what nbconvert shows for a notebook saved
without widget state."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import nbchat
from nbchat.panel.transcript import STATIC_CLASS, transcript_bundle, transcript_html

HOSTILE = json.loads((Path(__file__).parents[1] / "fixtures" / "hostile.json").read_text())


def _payloads() -> list[str]:
    items = HOSTILE if isinstance(HOSTILE, list) else HOSTILE.get("payloads", [])
    return [p if isinstance(p, str) else str(p.get("payload", p)) for p in items]


def test_hostile_text_is_inert_in_the_transcript() -> None:
    payloads = _payloads()
    assert len(payloads) > 20
    msgs = [{"role": "assistant", "content": p, "model": "echo"} for p in payloads]
    out = transcript_html(msgs)
    tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append((tag, attrs))

    Collect().feed(out)
    names = {tag for tag, _ in tags}
    assert not names & {"script", "iframe", "object", "embed", "style", "form", "svg", "math"}
    # no remote resource at all: an image is fetched even inside a hidden element
    assert not names & {"img", "picture", "video", "audio", "source", "link", "base"}
    for tag, attrs in tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)  # no event handlers
            if name in ("href", "src"):
                assert re.match(r"(https?:|mailto:|#|/|[^:]*$)", (value or "").strip()), value
            if tag == "a" and name == "href":
                assert ("rel", "noopener noreferrer") in attrs


def test_bundle_holds_every_message_and_no_key() -> None:
    msgs = [{"role": "user", "content": f"question {i}"} for i in range(100)]
    bundle = transcript_bundle(msgs, system="be brief", model="demo")
    assert set(bundle) == {"text/html", "text/markdown", "text/plain"}
    assert all(f"question {i}" in bundle["text/html"] for i in range(100))
    assert f'class="{STATIC_CLASS}"' in bundle["text/html"]
    assert "be brief" in bundle["text/markdown"]


def test_panel_displays_widget_and_transcript_and_refreshes_per_turn(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython.display as ipd

    shown: list[tuple[str, dict[str, Any], str | None]] = []
    monkeypatch.setattr(
        ipd,
        "display",
        lambda obj, raw=False, display_id=None, metadata=None: shown.append(
            ("display", obj, display_id)
        ),
    )
    monkeypatch.setattr(
        ipd,
        "update_display",
        lambda obj, raw=False, display_id=None: shown.append(("update", obj, display_id)),
    )
    canary = "sk-CANARY-transcript-0123456789"
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", api_key=canary)
    chat = nbchat.ChatPanel(client=client, model="echo?tps=2000")
    chat._ipython_display_()
    assert [kind for kind, *_ in shown] == ["display", "display"]
    widget_bundle, transcript = shown[0][1], shown[1][1]
    assert "application/vnd.jupyter.widget-view+json" in widget_bundle
    assert "messages=0" not in widget_bundle["text/plain"]  # no stale count for GitHub & co
    assert "no messages yet" in transcript["text/html"]
    display_id = shown[1][2]
    assert display_id

    for text in ("first question", "second question"):
        chat.send(text).wait(30)
        deadline = __import__("time").monotonic() + 10
        while __import__("time").monotonic() < deadline and not any(
            kind == "update"
            and text in obj["text/html"]
            and "assistant" in obj["text/markdown"].lower()
            and obj["text/markdown"].count(text) == 2
            for kind, obj, _ in shown
        ):
            __import__("time").sleep(0.05)
    updates = [obj for kind, obj, did in shown if kind == "update" and did == display_id]
    # one refresh per finished turn (the user message before each turn does not cost one)
    assert len(updates) == 2, [u["text/markdown"][:80] for u in updates]
    assert updates[-1]["text/markdown"].count("second question") == 2  # asked and echoed
    assert all(canary not in json.dumps(obj) for _, obj, _ in shown)
    chat.close()
