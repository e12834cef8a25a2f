"""One copy of the front end per kernel (issue 11 item 4): panels share a bundle model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import nbchat
from nbchat.panel.bundle import STATIC, Bundle, shared_bundle


def _state_bytes(widget: Any) -> int:
    return len(json.dumps(widget.get_state(), default=str))


def test_three_panels_share_one_copy_of_the_front_end(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", api_key="k")
    panels = [nbchat.ChatPanel(client=client, model="echo") for _ in range(3)]
    try:
        bundles = {p.bundle.model_id for p in panels}
        assert len(bundles) == 1
        bundle = panels[0].bundle
        assert isinstance(bundle, Bundle) and bundle is shared_bundle()
        code = (STATIC / "widget.js").read_text("utf-8")
        assert bundle.esm == code and len(code) > 100_000
        # each panel's own state is small: the loader, not the front end
        for p in panels:
            assert _state_bytes(p) < 10_000, _state_bytes(p)
            assert code[:2000] not in json.dumps(p.get_state(), default=str)
        total = sum(_state_bytes(p) for p in panels) + _state_bytes(bundle)
        one = len(json.dumps(code)) + len(json.dumps((STATIC / "widget.css").read_text()))
        assert total < 1.1 * one, (total, one)  # was about 3 x one
    finally:
        for p in panels:
            p.close()


def test_hot_reload_mode_loads_the_files_directly() -> None:
    code = (
        "import nbchat, json\n"
        "p = nbchat.ChatPanel(model='demo')\n"
        "print(json.dumps([p.bundle is None, len(p._esm) > 100000]))\n"
        "p.close()"
    )
    env = {**os.environ, "ANYWIDGET_HMR": "1", "NBCHAT_STORE": "off"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, True]
