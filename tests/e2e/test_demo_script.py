"""scripts/demo from a fresh clone: as root it starts, and the URL it prints opens the
quickstart notebook (a scratch copy: the tracked notebooks are never written) (issue 11 item 7).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
URL = re.compile(r"open (http://127\.0\.0\.1:\d+/lab/tree/quickstart\.ipynb\?token=\w+)")


@pytest.fixture
def demo() -> Iterator[tuple[str, str]]:
    env = {**os.environ, "NBCHAT_DEMO_NO_SETUP": "1"}
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "demo")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out: list[str] = []
    url = None
    deadline = time.monotonic() + 90
    try:
        assert proc.stdout is not None
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            m = URL.search(line)
            url = m.group(1) if m else None
        assert url, "scripts/demo printed no notebook URL:\n" + "".join(out)
        # keep draining the log, so the server never blocks on a full pipe
        threading.Thread(target=lambda: out.extend(proc.stdout or ()), daemon=True).start()
        yield url, "".join(out)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_demo_prints_the_quickstart_url_and_it_opens_the_notebook(
    demo: tuple[str, str], browser: Any
) -> None:
    url, log = demo
    # as root (CI, containers) JupyterLab refused to start without --allow-root
    assert "Running as root is not recommended" not in log
    tracked = (ROOT / "notebooks" / "quickstart.ipynb").read_bytes()
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_function(
            "() => window.jupyterapp?.shell?.currentWidget?.context?.path === 'quickstart.ipynb'"
            " || [...document.querySelectorAll('.lm-TabBar-tabLabel')]"
            ".some(t => t.textContent === 'quickstart.ipynb')",
            timeout=60_000,
        )
        # the news prompt is off for the demo
        news = page.locator("text=Would you like to get notified about official Jupyter news")
        assert news.count() == 0
    finally:
        page.close()
    # the server's root is the scratch copy, never the tracked folder
    assert (ROOT / ".demo" / "notebooks" / "quickstart.ipynb").exists()
    assert (ROOT / "notebooks" / "quickstart.ipynb").read_bytes() == tracked
