"""The API key never leaves the client: not into a saved notebook (widget state), reprs,
exceptions, logs, DataFrames, JSON exports or recorded cassettes.

A canary key is used against an embedded server that *requires* it, so every successful
reply below also proves the key was really sent.
"""

from __future__ import annotations

import base64
import getpass
import io
import json
import logging
import pickle
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import nbchat
from nbchat.panel import ChatPanel
from nbchat.recording import Recorder
from nbchat.server import Server, serve
from nbchat.server.faults import STREAM_ONLY_FAULTS

CANARY = "sk-canary-5e0f1b9c2d7a"
FAULTS = ["401", "403", "404", "422", "429", "500", "502", "malformed", "drop", "error-event"]
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(scope="module")
def keyed() -> Iterator[Server]:
    with serve(api_key=CANARY, tokens_per_second=0) as server:
        yield server


def _client(server: Server, api: str = "egp", key: str = CANARY, **kw: Any) -> nbchat.Client:
    base = server.url + ("/egp/v1" if api == "egp" else "/v1")
    return nbchat.Client(base_url=base, api_key=key, api=api, max_retries=0, **kw)


def _clean(text: str, what: str) -> None:
    assert CANARY not in text, f"the key leaked into {what}"
    assert CANARY[3:] not in text, f"part of the key leaked into {what}"


def _exception_text(exc: BaseException) -> str:
    parts = [repr(exc), str(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    for attr in ("message", "partial"):
        parts.append(repr(getattr(exc, attr, None)))
    reply = getattr(exc, "reply", None)
    if reply is not None:
        parts += [repr(reply), json.dumps(reply.to_dict(), default=str)]
    return "\n".join(parts)


# ---------------------------------------------------------------- a saved notebook

NOTEBOOK_CELLS = [
    "import os, nbchat\n"
    "client = nbchat.Client(base_url=os.environ['NBCHAT_TEST_URL'],\n"
    "                       api_key=os.environ['NBCHAT_TEST_KEY'], max_retries=0)\n"
    "panel = nbchat.ChatPanel(client=client, model='echo')\n"
    "panel",
    "for i in range(10):\n"
    "    panel.send(f'warm-up {i}').wait(20)\n"
    "r1 = panel.send('first message to keep').wait(20)\n"
    "panel.model = 'demo?fault=error-event&after=2'\n"
    "r2 = panel.send('second message').wait(20)\n"
    "print(r1.status, r2.status, panel.status)",
    "print(repr(client)); print(repr(panel)); print(panel.error); panel.messages[-1]",
]


def _url_with_credentials(server: Server) -> str:
    """The server's EGP base URL with the canary in its user info and its query (item 4)."""
    host = server.url.removeprefix("http://")
    return f"http://nbuser:{CANARY}@{host}/egp/v1?key={CANARY}"


@pytest.mark.parametrize("how", ["env", "file"])
def test_saved_notebook_has_the_conversation_but_not_the_key(
    keyed: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # The key reaches the kernel the way a user's secret does: not in any cell source.
    # "file": read from a file (a trailing newline) with a base URL that holds it too.
    monkeypatch.setenv("NBCHAT_TEST_KEY", CANARY + ("\n" if how == "file" else ""))
    url = _url_with_credentials(keyed) if how == "file" else keyed.url + "/egp/v1"
    monkeypatch.setenv("NBCHAT_TEST_URL", url)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    NotebookClient(
        nb, kernel_name="python3", store_widget_state=True, timeout=60, allow_errors=False
    ).execute()
    path = tmp_path / "chat.ipynb"
    nbformat.write(nb, path)  # what JupyterLab's "save with widget state" writes
    text = path.read_text("utf-8")

    assert "complete error error" in text  # the turns ran: the key was accepted
    state = json.loads(text)["metadata"]["widgets"][WIDGET_STATE]["state"]
    panels = [m for m in state.values() if "recent" in m.get("state", {})]
    assert len(panels) == 1
    # The conversation is the panel's pages (child models, saved too) followed by `recent`.
    panel_state = panels[0]["state"]
    messages = [
        m
        for ref in panel_state["pages"]
        for m in state[ref.removeprefix("IPY_MODEL_")]["state"]["messages"]
    ] + panel_state["recent"]
    assert len(panel_state["pages"]) == 1  # 24 messages: one page of 20, 4 recent
    assert [m["content"] for m in messages[:4:2]] == ["warm-up 0", "warm-up 1"]
    messages = messages[20:]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[1]["content"] == "first message to keep"
    assert messages[3]["status"] == "error" and "overloaded" in messages[3]["error"]
    assert panel_state["status"] == "error"
    _clean(text, "the saved notebook")


# ---------------------------------------------------------------- reprs and objects


def test_reprs_state_and_pickles(keyed: Server) -> None:
    client = _client(keyed)
    panel = ChatPanel(client=client, model="echo")
    turn = panel.send("hello there")
    reply = turn.wait(10)
    assert reply.status == "complete" and reply.content == "hello there"
    stream = client.stream([{"role": "user", "content": "x"}], model="echo")
    with stream:
        list(stream)
    texts = {
        "client": (repr(client), str(client)),
        "panel": (repr(panel), str(panel), json.dumps(panel.get_state(), default=str)),
        "turn": (repr(turn), str(turn), repr(turn.message)),
        "reply": (repr(reply), str(reply), json.dumps(reply.to_dict(), default=str)),
        "stream": (repr(stream), str(stream), repr(stream.reply)),
        "client.__dict__": (repr(vars(client)),),
        "headers": (repr(client._session.headers),),
    }
    for what, parts in texts.items():
        _clean("\n".join(parts), what)
    with pytest.raises(TypeError):
        pickle.dumps(client)  # the key refuses to be pickled


@pytest.mark.parametrize("api", ["egp", "openai"])
@pytest.mark.parametrize("fault", FAULTS)
def test_exceptions_from_every_fault(keyed: Server, api: str, fault: str) -> None:
    client = _client(keyed, api)
    model = f"demo?fault={fault}&after=2" + ("&retry_after=0" if fault == "429" else "")
    if fault not in STREAM_ONLY_FAULTS:  # these do not change sync replies (faults.py)
        with pytest.raises(nbchat.APIError) as info:
            client.complete([{"role": "user", "content": "hi"}], model=model)
        _clean(_exception_text(info.value), f"{type(info.value).__name__} ({fault}, sync)")
    stream = client.stream([{"role": "user", "content": "hi"}], model=model)
    with pytest.raises(nbchat.APIError) as info, stream:
        list(stream)
    _clean(_exception_text(info.value), f"{type(info.value).__name__} ({fault}, stream)")
    _clean(repr(stream), "the stream")


@pytest.mark.parametrize("api", ["egp", "openai"])
def test_a_wrong_key_is_not_echoed(keyed: Server, api: str) -> None:
    wrong = CANARY + "-wrong"
    client = _client(keyed, api, key=wrong)
    with pytest.raises(nbchat.AuthenticationError) as info:
        client.complete([{"role": "user", "content": "hi"}], model="demo")
    assert "-wrong" not in _exception_text(info.value)
    _clean(_exception_text(info.value), "the 401 error")


# ---------------------------------------------------------------- logs


def test_debug_logs(keyed: Server, caplog: pytest.LogCaptureFixture) -> None:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            for api in ("egp", "openai"):
                client = _client(keyed, api)
                client.complete([{"role": "user", "content": "hi"}], model="echo")
                for fault in ("500", "malformed", "drop"):
                    stream = client.stream(
                        [{"role": "user", "content": "hi"}], model=f"demo?fault={fault}"
                    )
                    with pytest.raises(nbchat.APIError), stream:
                        list(stream)
                panel = ChatPanel(client=client, model="demo?fault=error-event")
                panel.send("hi").wait(10)
                panel = ChatPanel(client=_client(keyed, api, key="nope"), model="demo")
                panel.send("hi").wait(10)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logged = buf.getvalue()
    assert "POST" in logged and "nbchat" in logged  # DEBUG records really were captured
    assert "urllib3" in logged  # including the HTTP library's own debug lines
    _clean(logged, "the root log handler")
    _clean(caplog.text, "caplog")
    for record in caplog.records:
        _clean(repr(record.args) + record.getMessage(), f"log record {record.name}")


# ---------------------------------------------------------------- exports and cassettes


def test_history_frame_and_json_export(keyed: Server) -> None:
    panel = ChatPanel(client=_client(keyed), model="echo")
    panel.send("a question").wait(10)
    panel.model = "demo?fault=malformed&after=2"
    panel.send("another").wait(10)
    assert hasattr(nbchat, "history") and hasattr(panel, "to_json")
    df = nbchat.history(panel)
    csv = df.to_csv()
    assert "a question" in csv and len(df) == 4
    exported = panel.to_json()
    assert "a question" in exported and "malformed" in exported
    _clean(csv, "history(panel).to_csv()")
    _clean(df.to_string(), "the history frame")
    _clean(exported, "panel.to_json()")
    restored = ChatPanel.from_json(exported, client=_client(keyed))
    assert restored.messages == panel.messages


def test_recorded_cassette(keyed: Server, tmp_path: Path) -> None:
    path = tmp_path / "cassette.json"
    rec = Recorder(path)
    for api in ("egp", "openai"):
        client = _client(keyed, api, recorder=rec)
        assert client.complete([{"role": "user", "content": "one"}], model="echo").content
        with client.stream([{"role": "user", "content": "two"}], model="echo") as s:
            assert "".join(c.delta for c in s) == "two"
        stream = client.stream([{"role": "user", "content": "x"}], model="demo?fault=drop")
        with pytest.raises(nbchat.StreamError), stream:
            list(stream)
    text = path.read_text("utf-8")
    doc = json.loads(text)
    assert len(doc["exchanges"]) == 6
    _clean(text, "the cassette file")
    for ex in doc["exchanges"]:
        body = b"".join(base64.b64decode(piece) for _, piece in ex["body"])
        _clean(body.decode("utf-8", "replace"), "a recorded body")


# ---------------------------------------------------------------- getpass


def test_a_getpass_key_follows_the_same_rules(
    keyed: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": CANARY)
    key = getpass.getpass("API key: ")
    client = nbchat.Client(base_url=keyed.url + "/v1", api="openai", api_key=key, max_retries=0)
    assert client.has_key
    assert client.complete([{"role": "user", "content": "ok"}], model="echo").content == "ok"
    _clean(repr(client) + str(client), "repr of a getpass client")
    with pytest.raises(nbchat.AuthenticationError) as info:
        client.complete([{"role": "user", "content": "ok"}], model="demo?fault=401")
    _clean(_exception_text(info.value), "a getpass client's error")
    panel = ChatPanel(client=client, model="echo")
    panel.send("hi").wait(10)
    _clean(repr(panel) + json.dumps(panel.get_state(), default=str), "a getpass panel")


# ---------------------------------------------------------------- a key read from a file


@pytest.mark.parametrize("api", ["egp", "openai"])
def test_a_key_read_from_a_file_never_leaks(
    keyed: Server, api: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``api_key=open("key.txt").read()``: the trailing newline is stripped, so the key works;
    a key that cannot be a header is refused at construction without being quoted. Before,
    requests' "invalid header value" error quoted the key into the error, the panel's ``error``
    trait, ``history()``, ``to_json()`` and a log line (and it was retried)."""
    with caplog.at_level(logging.DEBUG):
        client = _client(keyed, api, key=CANARY + "\n")
        panel = ChatPanel(client=client, model="echo")
        assert panel.send("from a file").wait(10).content == "from a file"  # the key was sent
        panel.model = "demo?fault=500"
        assert panel.send("then a failure").wait(10).status == "error"
        refused = []
        for bad in (CANARY + "\nx", CANARY + "\u2028x", f"{CANARY}\u00e9\u20ac", CANARY + "\x7f"):
            with pytest.raises(nbchat.ConfigError) as info:
                _client(keyed, api, key=bad)
            refused.append(_exception_text(info.value))
    assert "api_key" in refused[0]
    texts = {
        "the refusals": "\n".join(refused),
        "the panel's error trait": panel.error,
        "the panel's state": json.dumps(panel.get_state(), default=str),
        "history()": nbchat.history(panel).to_csv(),
        "to_json()": panel.to_json(),
        "the log": caplog.text,
        "reprs": repr(client) + repr(panel),
    }
    assert panel.error  # the failure is shown
    for what, text in texts.items():
        _clean(text, what)


@pytest.mark.parametrize(("api", "kw"), [("egp", {}), ("openai", {"auth_header": "x-api-key"})])
def test_credentials_in_the_base_url_never_leak(
    keyed: Server, api: str, kw: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    host = keyed.url.removeprefix("http://")
    base = f"http://nbuser:{CANARY}@{host}" + ("/egp/v1" if api == "egp" else "/v1")
    # User info is sent as Basic auth, which would replace "Authorization: Bearer KEY".
    with pytest.raises(nbchat.ConfigError, match="user info") as info:
        nbchat.Client(base_url=base, api="openai", api_key=CANARY)
    _clean(_exception_text(info.value), "the user-info refusal")
    client = nbchat.Client(
        base_url=f"{base}?key={CANARY}", api=api, api_key=CANARY, max_retries=0, **kw
    )
    with caplog.at_level(logging.DEBUG):
        panel = ChatPanel(client=client, model="echo")
        panel.send("hi").wait(10)
        panel.model = "demo?fault=500"
        panel.send("again").wait(10)
    assert panel.error and "500" in panel.error
    for what, text in {
        "the backend label": panel.backend,
        "the panel's state": json.dumps(panel.get_state(), default=str),
        "reprs": repr(client) + str(client) + repr(panel),
        "the error": panel.error,
        "history()": nbchat.history(panel).to_csv(),
        "the log": caplog.text,
        "log records": "\n".join(r.getMessage() for r in caplog.records),
    }.items():
        _clean(text, what)


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("status", [301, 307, 308])
@pytest.mark.parametrize(("api", "kw"), [("egp", {}), ("openai", {"auth_header": "x-api-key"})])
def test_a_redirect_never_carries_the_key(status: int, api: str, kw: dict[str, Any]) -> None:
    from tests.scripted import Script, ScriptedServer

    origin, other = ScriptedServer(), ScriptedServer()
    try:
        path = "/egp/v1/chat-completions" if api == "egp" else "/v1/chat/completions"
        origin.push(Script(status=status, headers={"Location": other.url + path}))
        other.push(Script(content_type="application/json", body=b"{}"))
        base = origin.url + ("/egp/v1" if api == "egp" else "/v1")
        client = nbchat.Client(base_url=base, api=api, api_key=CANARY, max_retries=2, **kw)
        panel = ChatPanel(client=client, model="m", store=False)
        panel.send("hi").wait(10)
        assert CANARY in json.dumps(origin.requests[-1]["headers"])  # the base URL's host: fine
        assert other.requests == []  # nothing, so no key, reached the other host
        assert "does not follow redirects" in panel.error
        _clean(panel.error + json.dumps(panel.get_state(), default=str), "the redirect error")
    finally:
        origin.stop()
        other.stop()
