"""Browser tests: a real Jupyter server (JupyterLab or Notebook 7) driven by headless Chromium.

See shared BROWSER-TESTING.md for why things are done the way they are here:
- one server per app and per session, one browser per session, one page (and one uniquely named
  notebook) per test;
- autosave and the news toast are switched off through user settings files;
- commands are fired with ``void app.commands.execute(...)`` (never awaited inside ``evaluate``);
- a kernel counts as ready only when ``connectionStatus == 'connected'`` and ``status == 'idle'``;
- the server runs with default IOPub rate limits, so dropped widget messages are caught.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = os.environ.get("NBCHAT_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-default-apps",
]
SERVER_START_TIMEOUT = 60.0
KERNEL_READY_TIMEOUT_MS = 60_000
DEFAULT_TIMEOUT_MS = 30_000

E2E_DIR = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- markers & hooks


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:150]


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_settings(settings_dir: Path) -> None:
    files = {
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
        "@jupyterlab/apputils-extension/notification": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for plugin, value in files.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")


@dataclass
class JupyterServer:
    app: str  # "lab" or "notebook"
    url: str  # http://127.0.0.1:PORT
    token: str
    root_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def notebook_url(self, name: str, workspace: str | None = None) -> str:
        quoted = urllib.parse.quote(name)
        if self.app == "notebook":
            return f"{self.url}/notebooks/{quoted}?token={self.token}"
        # A workspace of its own per page: otherwise the shared default workspace restores the
        # notebooks of earlier tests too (and starts their kernels again).
        ws = workspace or f"e2e-{uuid.uuid4().hex[:8]}"
        return f"{self.url}/lab/workspaces/{ws}/tree/{quoted}?token={self.token}"

    def shutdown_kernels_for(self, path: str) -> None:
        try:
            sessions = self.api("GET", "/api/sessions")
        except (urllib.error.URLError, OSError):
            return
        for s in sessions:
            if s.get("path") == path or s.get("notebook", {}).get("path") == path:
                with contextlib.suppress(urllib.error.URLError, OSError):
                    self.api("DELETE", f"/api/sessions/{s['id']}")


def _start_server(app: str, base_tmp: Path) -> JupyterServer:
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    token = secrets.token_hex(16)
    tmp = base_tmp / app
    root = tmp / "root"
    settings = tmp / "settings"
    workspaces = tmp / "workspaces"
    for d in (root, settings, workspaces, tmp / "config", tmp / "runtime", tmp / "data"):
        d.mkdir(parents=True, exist_ok=True)
    _write_settings(settings)

    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        # The data dir is temporary, so name the venv's share/jupyter explicitly: the
        # labextensions of jupyterlab_widgets and anywidget and the kernelspec live there.
        JUPYTER_PATH=os.pathsep.join(
            p for p in [str(Path(sys.prefix) / "share" / "jupyter"), env.get("JUPYTER_PATH")] if p
        ),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
        # The kernel imports nbchat from the work tree (whether or not it is installed), or
        # from NBCHAT_E2E_SRC (a directory holding an `nbchat` package) when that is set.
        PYTHONPATH=os.pathsep.join(
            p
            for p in [os.environ.get("NBCHAT_E2E_SRC", str(REPO_ROOT)), env.get("PYTHONPATH")]
            if p
        ),
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTER_TOKEN", None)

    app_cls = "LabApp" if app == "lab" else "JupyterNotebookApp"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab" if app == "lab" else "notebook",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--{app_cls}.expose_app_in_browser=True",
        f"--{app_cls}.user_settings_dir={settings}",
        f"--{app_cls}.workspaces_dir={workspaces}",
    ]
    if app == "lab":
        cmd.append("--LabApp.news_url=None")
    log_path = ARTIFACTS / f"jupyter-{app}.log"
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = JupyterServer(app, f"http://127.0.0.1:{port}", token, root, proc, log_path)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"jupyter {app} exited with {proc.returncode} before it was ready:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
        try:
            server.api("GET", "/api/status", timeout=2)
            break
        except (urllib.error.URLError, OSError, ValueError):
            if time.monotonic() > deadline:
                _stop_server(server)
                raise RuntimeError(
                    f"jupyter {app} did not answer /api/status in {SERVER_START_TIMEOUT}s:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                ) from None
            time.sleep(0.2)
    return server


def _stop_server(server: JupyterServer) -> None:
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class _ServerPool:
    """Starts at most one server per app for the session, on first use."""

    def __init__(self, base_tmp: Path) -> None:
        self.base_tmp = base_tmp
        self.servers: dict[str, JupyterServer] = {}

    def get(self, app: str) -> JupyterServer:
        if app not in self.servers:
            self.servers[app] = _start_server(app, self.base_tmp)
        return self.servers[app]

    def close(self) -> None:
        for server in self.servers.values():
            _stop_server(server)


@pytest.fixture(scope="session")
def _server_pool() -> Iterator[_ServerPool]:
    base = Path(tempfile.mkdtemp(prefix="nbchat-e2e-"))
    pool = _ServerPool(base)
    try:
        yield pool
    finally:
        pool.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def jupyter_server(request: pytest.FixtureRequest, _server_pool: _ServerPool) -> JupyterServer:
    """A running Jupyter server. JupyterLab unless parametrized indirectly with "notebook"."""
    app = getattr(request, "param", "lab")
    assert app in ("lab", "notebook"), app
    return _server_pool.get(app)


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
            "(or point NBCHAT_E2E_CHROMIUM at a Chromium binary). The browser tests never skip.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# --------------------------------------------------------------------------- the notebook page


@dataclass
class NotebookPage:
    """One browser page showing one notebook on ``server``."""

    server: JupyterServer
    context: Any
    page: Any
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    name: str | None = None
    url: str | None = None

    # -- opening

    def open_notebook(
        self,
        cells: list[str],
        name: str | None = None,
        theme: str = "light",
        run: bool = True,
    ) -> NotebookPage:
        """Write a notebook of code ``cells``, open it, wait for the kernel, run all cells."""
        name = name or f"e2e-{uuid.uuid4().hex[:10]}.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nbformat.write(nb, str(self.server.root_dir / name))
        self.name = name
        self.url = self.server.notebook_url(name)
        self.page.goto(self.url, wait_until="domcontentloaded")
        self.wait_for_kernel()
        if theme == "dark":
            self.set_theme("dark")
        if run and cells:
            self.run_all()
            self.wait_for_execution(0)
        return self

    def reload(self) -> None:
        assert self.url is not None
        self.page.reload(wait_until="domcontentloaded")
        self.wait_for_kernel()

    def wait_for_kernel(self, timeout_ms: int = KERNEL_READY_TIMEOUT_MS) -> None:
        self.page.wait_for_function(
            """(name) => {
                const app = window.jupyterapp;
                const w = app && app.shell && app.shell.currentWidget;
                const path = w && w.context && w.context.path;
                if (!path || !path.endsWith(name)) return false;
                const k = w.sessionContext && w.sessionContext.session
                    && w.sessionContext.session.kernel;
                return !!k && k.connectionStatus === 'connected' && k.status === 'idle'
                    && !!w.content && w.content.widgets.length > 0;
            }""",
            arg=self.name,
            timeout=timeout_ms,
        )

    # -- running

    def run_all(self) -> None:
        self.page.evaluate(
            "() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
        )

    def execution_count(self, index: int) -> int | None:
        return self.page.evaluate(
            """(i) => {
                const c = window.jupyterapp.shell.currentWidget.content.widgets[i];
                return c ? c.model.executionCount : null;
            }""",
            index,
        )

    def wait_for_execution(self, index: int, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> int:
        """Wait until cell ``index`` has an execution count (and its run has finished)."""
        self.page.wait_for_function(
            """(i) => {
                const w = window.jupyterapp.shell.currentWidget;
                const c = w.content.widgets[i];
                if (!c || c.model.executionCount == null) return false;
                // the prompt shows "[*]" while the cell runs
                const p = c.node.querySelector('.jp-InputPrompt');
                return !p || !p.textContent.includes('*');
            }""",
            arg=index,
            timeout=timeout_ms,
        )
        count = self.execution_count(index)
        assert count is not None
        return count

    def wait_for_all(self, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        n = self.cell_count()
        for i in range(n):
            self.wait_for_execution(i, timeout_ms)

    def cell_count(self) -> int:
        return self.page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.content.widgets.length"
        )

    def add_cell(self, code: str) -> int:
        """Append a code cell with ``code`` and run it (fire and forget). Returns its index."""
        return self.page.evaluate(
            """(code) => {
                const app = window.jupyterapp;
                const w = app.shell.currentWidget;
                const nb = w.content;
                const idx = nb.widgets.length;
                w.model.sharedModel.insertCell(idx, {cell_type: 'code', source: code});
                nb.activeCellIndex = idx;
                nb.deselectAll();
                void app.commands.execute('notebook:run-cell');
                return idx;
            }""",
            code,
        )

    def add_and_run_cell(self, code: str, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> str:
        """Append a code cell, run it, wait for it to finish, and return its text output."""
        idx = self.add_cell(code)
        self.wait_for_execution(idx, timeout_ms)
        return self.cell_output(idx)

    def cell_output(self, index: int) -> str:
        """The text of a cell's outputs (stream text, text/plain results, error tracebacks)."""
        return self.page.evaluate(
            """(i) => {
                const c = window.jupyterapp.shell.currentWidget.content.widgets[i];
                const outs = c.model.outputs.toJSON();
                const parts = [];
                for (const o of outs) {
                    if (o.output_type === 'stream') {
                        parts.push(Array.isArray(o.text) ? o.text.join('') : o.text);
                    } else if (o.output_type === 'error') {
                        parts.push(o.ename + ': ' + o.evalue);
                    } else if (o.data && o.data['text/plain'] !== undefined) {
                        const t = o.data['text/plain'];
                        parts.push(Array.isArray(t) ? t.join('') : t);
                    }
                }
                return parts.join('');
            }""",
            index,
        )

    def cell_locator(self, index: int) -> Any:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    # -- appearance

    def set_theme(self, theme: str) -> None:
        name = {"dark": "JupyterLab Dark", "light": "JupyterLab Light"}.get(theme, theme)
        self.page.evaluate(
            "(t) => { void window.jupyterapp.commands"
            ".execute('apputils:change-theme', {theme: t}); }",
            name,
        )
        self.page.wait_for_function(
            "(dark) => document.body.dataset.jpThemeLight === (dark ? 'false' : 'true')",
            arg="Dark" in name,
            timeout=DEFAULT_TIMEOUT_MS,
        )

    # -- cleanup

    def shutdown(self) -> None:
        if self.name:
            self.server.shutdown_kernels_for(self.name)

    def wait_for_transcript(self, text: str, timeout_ms: int = 20_000) -> None:
        """Wait until a panel's static transcript output (nbchat/panel/transcript.py) holds
        ``text``. It is refreshed just after a turn ends and changes the notebook, so a test
        that saves and waits for a clean notebook saves after it."""
        self.page.wait_for_function(
            """(text) => window.jupyterapp.shell.currentWidget.content.widgets.some((c) => {
                const outs = JSON.stringify(c.model.outputs ? c.model.outputs.toJSON() : []);
                return outs.includes('nbchat-static') && outs.includes(text);
            })""",
            arg=text,
            timeout=timeout_ms,
        )

    def relevant_errors(self) -> list[str]:
        """Console and page errors, without the server's expected noise."""
        noise = ("favicon", "Failed to load resource", "404 (Not Found)")
        errs = [e for e in self.console_errors if not any(n in e for n in noise)]
        page_errs = list(self.page_errors)
        if self.server.app == "notebook":
            # Notebook 7.6 itself: the shortcuts settings transform reads
            # `plugins[id].schema` of a plugin the registry has not loaded (seen with an
            # empty settings dir and no extra extensions too).
            page_errs = [e for e in page_errs if "reading 'schema'" not in e]
        return errs + page_errs


@pytest.fixture
def notebook(
    request: pytest.FixtureRequest, browser: Any, jupyter_server: JupyterServer
) -> Iterator[NotebookPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    nbp = NotebookPage(jupyter_server, context, page)
    page.on(
        "console",
        lambda msg: (
            nbp.console_errors.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: nbp.page_errors.append(f"pageerror: {exc}"))
    try:
        yield nbp
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{_safe_name(request.node.name)}.png"))
            except Exception as exc:  # the page may be gone
                print(f"screenshot on failure failed: {exc}")
            if nbp.console_errors or nbp.page_errors:
                print("browser errors:\n" + "\n".join(nbp.console_errors + nbp.page_errors))
        nbp.shutdown()
        context.close()


KERNELS_SETTINGS = "/lab/api/settings/@jupyterlab/apputils-extension:kernels-settings"


@pytest.fixture
def comms_without_subshells(notebook: NotebookPage) -> Iterator[None]:
    """The workaround the README gives for an upstream bug, for the tests that reload a page.

    With JupyterLab 4.6 and ipykernel 7, comm messages go to kernel subshells by default, and
    after a page reload the new page's comm messages are sometimes addressed to a subshell the
    kernel no longer has: the kernel drops them ("Unknown subshell_id", ipykernel#1557), so no
    widget in that page can reach the kernel. Measured here: 2 reloads in 8. Setting
    ``commsOverSubshells`` to ``disabled`` avoids it. It is restored after the test.
    """
    server = notebook.server
    server.api("PUT", KERNELS_SETTINGS, {"raw": '{"commsOverSubshells": "disabled"}'})
    try:
        yield
    finally:
        server.api("PUT", KERNELS_SETTINGS, {"raw": "{}"})
