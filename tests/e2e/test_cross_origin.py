"""A web page on another origin, in the same Chromium as the panel, gets nothing from the
embedded server (issue 10 items 5 and 6), while the panel keeps working.

The kernel runs the embedded server; the browser shows the notebook with the panel and, in other
tabs of the same browser, an attacker's pages:

- a page on ``http://127.0.0.1:<other port>`` that posts ``text/plain`` ("simple" requests need
  no CORS preflight): the server must refuse it before the model runs (415);
- a page on ``http://rebind.test:<server port>`` whose name resolves to 127.0.0.1 (the browser's
  ``--host-resolver-rules`` stands in for an attacker's DNS that rebinds the name after the page
  loaded): its requests are same-origin, so it could read every reply; the server must refuse
  its ``Host`` (421). A second server in the same kernel that is told to answer to
  ``rebind.test`` is the control: the same page does read its reply, so the setup is a working
  attack and only the Host check stops it.

Chromium's Local Network Access checks are switched off for this browser: they are Chromium's
own, newer, defence, and the server must not depend on them (other browsers have none).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import CHROMIUM, CHROMIUM_ARGS, NotebookPage
from .test_panel import Panel

pytestmark = pytest.mark.timeout(180)

REBIND = "rebind.test"
CANARY = "cross-origin-canary-7d41"
ATTACK_MODEL = "echo?seed=666"  # a model string only the attacker uses, to count at the server
ARGS = [
    *CHROMIUM_ARGS,
    f"--host-resolver-rules=MAP {REBIND} 127.0.0.1",
    "--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights,"
    "PrivateNetworkAccessRespectPreflightResults,BlockInsecurePrivateNetworkRequests",
]
ATTACKER_HTML = """<!doctype html><title>attacker</title><script>
window.attack = async (url, opts) => {
  try {
    const r = await fetch(url, opts);
    let text = '';
    try { text = await r.text(); } catch (e) { text = 'unreadable: ' + e; }
    return {type: r.type, status: r.status, text};
  } catch (e) {
    return {error: String(e)};
  }
};
</script><p>nothing to see</p>"""
SETUP = f"""\
import nbchat
server = nbchat.serve(tokens_per_second=0)
control = nbchat.serve(tokens_per_second=0, allowed_hosts=[{REBIND!r}])
chat = nbchat.ChatPanel(
    client=nbchat.Client(base_url=server.url + "/egp/v1", api_key="test"), model="echo"
)
chat"""
BODY_JS = (
    f"JSON.stringify({{model: {ATTACK_MODEL!r}, "
    f"messages: [{{role: 'user', content: {CANARY!r}}}]}})"
)


@pytest.fixture(scope="module")
def browser(browser: Any) -> Iterator[Any]:
    """A Chromium of its own (same binary), with the resolver rule; launched through the
    session's Playwright so the two never nest."""
    own = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    try:
        yield own
    finally:
        own.close()


@pytest.fixture(scope="module")
def attacker_origin() -> Iterator[str]:
    """A plain HTTP server on another port of 127.0.0.1 serving the attacker's page."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = ATTACKER_HTML.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def kernel_value(nb: NotebookPage, expr: str) -> str:
    return nb.add_and_run_cell(f"print({expr})").strip()


def attack_count(nb: NotebookPage, server: str) -> int:
    return int(kernel_value(nb, f"{server}.stats()['by_model'].get({ATTACK_MODEL!r}, 0)"))


def rebinding_page(nb: NotebookPage, port: int) -> Any:
    """A tab showing the attacker's page at http://rebind.test:<port>/.

    Only the document comes from the attacker (as before the DNS answer changed); every
    request the page makes afterwards goes to 127.0.0.1:<port> with ``Host: rebind.test:port``.
    """
    page = nb.context.new_page()
    url = f"http://{REBIND}:{port}/"
    page.route(url, lambda route: route.fulfill(status=200, body=ATTACKER_HTML,
                                                content_type="text/html"))  # fmt: skip
    page.goto(url)
    return page


def test_another_origin_cannot_use_the_server_but_the_panel_can(
    notebook: NotebookPage, attacker_origin: str
) -> None:
    notebook.open_notebook([SETUP])
    panel = Panel(notebook)
    expect(panel.root).to_be_visible(timeout=20_000)
    port = int(kernel_value(notebook, "server.port"))
    control_port = int(kernel_value(notebook, "control.port"))
    chat_url = f"http://127.0.0.1:{port}/v1/chat/completions"

    # 1. A simple cross-site POST (text/plain, no preflight), no-cors and cors.
    attacker = notebook.context.new_page()
    statuses: list[int] = []
    attacker.on("response", lambda r: statuses.append(r.status) if r.url == chat_url else None)
    attacker.goto(attacker_origin)
    for mode in ("no-cors", "cors"):
        result = attacker.evaluate(
            f"""() => window.attack({chat_url!r}, {{method: 'POST', mode: {mode!r},
                headers: {{'Content-Type': 'text/plain'}}, body: {BODY_JS}}})"""
        )
        assert CANARY not in str(result)
    # Both reached the server, which refused them (Playwright reports the status of the
    # no-cors one; the cors one's response is hidden from the page by the missing CORS headers).
    assert statuses[:1] == [415]
    assert kernel_value(notebook, "server.stats()['refused']") == "{'415': 2}"
    assert attack_count(notebook, "server") == 0  # the model never ran

    # 2. DNS rebinding: a same-origin page at rebind.test:<port>.
    post = f"""(path) => window.attack(path, {{method: 'POST',
        headers: {{'Content-Type': 'application/json'}}, body: {BODY_JS}}})"""
    rebound = rebinding_page(notebook, port)
    result = rebound.evaluate(post, "/v1/chat/completions")
    assert result.get("status") == 421, result
    assert CANARY not in result["text"]
    models = rebound.evaluate("() => window.attack('/v1/models', {})")
    assert models.get("status") == 421 and "echo" not in models["text"], models
    assert attack_count(notebook, "server") == 0
    refused = kernel_value(notebook, "server.stats()['refused']['421']")
    assert int(refused) >= 2  # and the page's favicon request

    # The control: a server that answers to rebind.test hands the same page its reply.
    control = rebinding_page(notebook, control_port)
    leaked = control.evaluate(post, "/v1/chat/completions")
    assert leaked.get("status") == 200 and CANARY in leaked["text"], leaked
    assert attack_count(notebook, "control") == 1

    # 3. The panel (kernel -> 127.0.0.1) still works.
    notebook.page.bring_to_front()
    panel.type_and_enter("hello from the panel")
    panel.wait_idle()
    expect(panel.content(panel.last("assistant"))).to_contain_text("hello from the panel")
    assert notebook.relevant_errors() == []
