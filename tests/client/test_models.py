"""``Client.models()`` and the model rule (issue 11, item 2): with no model given, the server's
only model is used; several are offered in the panel's picker; no listing keeps free text.
``%%chat`` follows the same rule (``nbchat.runs.defaults.resolve_model``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbchat
from nbchat import magic
from nbchat.runs.defaults import resolve_model
from nbchat.server import Server, serve
from tests.scripted import Script, ScriptedServer

BASES = {"egp": "/egp/v1", "openai": "/v1"}
KEY = "sk-models-canary-51c2"


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def keyed() -> Iterator[Server]:
    with serve(api_key=KEY, tokens_per_second=0) as server:
        yield server


def _cassette(model: str) -> dict[str, Any]:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "recorded"},
                         "finish_reason": "stop"}]}  # fmt: skip
    return {
        "version": 1,
        "exchanges": [
            {
                "api": "openai",
                "path": "/v1/chat/completions",
                "request": {
                    "model": model,
                    "messages": [{"role": "user", "content": "hi"}],
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
                "status": 200,
                "content_type": "application/json",
                "response_t": 0.0,
                "body": [[0.0, base64.b64encode(json.dumps(body).encode()).decode()]],
                "reply": None,
            }
        ],
    }


@pytest.fixture
def one_model() -> Iterator[Server]:
    """A server that lists exactly one model: a replay of a one-model cassette."""
    with serve(replay=_cassette("gpt-only"), speed=0) as server:
        yield server


# ---------------------------------------------------------------- Client.models()


@pytest.mark.parametrize("api", ["egp", "openai"])
def test_models_lists_the_servers_models(keyed: Server, api: str) -> None:
    client = nbchat.Client(base_url=keyed.url + BASES[api], api=api, api_key=KEY)
    assert client.models() == ["demo", "echo", "bench"]  # the key was sent: the server wants it
    wrong = nbchat.Client(base_url=keyed.url + BASES[api], api=api, api_key="nope")
    with pytest.raises(nbchat.AuthenticationError) as info:
        wrong.models()
    assert "nope" not in str(info.value)


def test_models_of_a_replay_server(one_model: Server) -> None:
    client = nbchat.Client(base_url=one_model.url + "/v1", api="openai")
    assert client.models() == ["gpt-only"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"object": "list", "data": [{"id": "b"}, {"id": "a"}, {"id": "b"}]}', ["b", "a"]),
        (b'{"items": [{"id": "x1", "name": "alpha"}], "total_item_count": 1}', ["alpha"]),
        (b'{"data": []}', []),
    ],
)
def test_models_reads_both_listing_shapes(
    scripted: ScriptedServer, body: bytes, expected: list[str]
) -> None:
    scripted.push(Script(content_type="application/json", body=body))
    client = nbchat.Client(base_url=scripted.url + "/v1?tenant=t1", api="openai", api_key="k")
    assert client.models() == expected
    req = scripted.requests[-1]
    assert req["method"] == "GET" and req["path"] == "/v1/models?tenant=t1"
    assert req["headers"]["authorization"] == "Bearer k"


@pytest.mark.parametrize(
    ("script", "error", "says"),
    [
        (Script(status=404, content_type="application/json", body=b'{"detail": "Not found"}'),
         nbchat.NotFoundError, "this server lists no models"),
        (Script(status=401, content_type="application/json", body=b'{"detail": "bad key"}'),
         nbchat.AuthenticationError, "bad key"),
        (Script(content_type="application/json", body=b'{"models": "?"}'),
         nbchat.APIError, "malformed model list"),
        (Script(content_type="text/html", body=b"<html><title>Portal</title></html>"),
         nbchat.APIError, "the server answered text/html"),
        (Script(status=307, headers={"Location": "http://127.0.0.1:9/v1/models"}),
         nbchat.APIError, "does not follow redirects"),
    ],
)  # fmt: skip
def test_models_failures_are_typed(
    scripted: ScriptedServer, script: Script, error: type[Exception], says: str
) -> None:
    scripted.scripts.clear()
    scripted.push(script)
    client = nbchat.Client(base_url=scripted.url + "/v1", api="openai", api_key="k", max_retries=0)
    with pytest.raises(error, match=says):
        client.models()


def test_models_retries_a_500_like_a_chat_request(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nbchat.client.retry, "BACKOFF_BASE_S", 0.001)
    scripted.scripts.clear()
    scripted.push(Script(status=500, body=b"oops"))
    scripted.push(Script(content_type="application/json", body=b'{"data": [{"id": "m"}]}'))
    client = nbchat.Client(base_url=scripted.url + "/v1", api="openai", api_key="k")
    assert client.models() == ["m"]


# ---------------------------------------------------------------- the rule


def test_resolve_model(live_server: Server, one_model: Server, scripted: ScriptedServer) -> None:
    several = nbchat.Client(base_url=live_server.url + "/v1", api="openai")
    before = len(live_server.requests)
    assert resolve_model(several, "given").model == "given"  # a model given: nobody is asked
    choice = resolve_model(several, None)
    assert choice.model == "" and choice.models == ["demo", "echo", "bench"]
    assert "pick one of the server's 3" in choice.note
    assert len(live_server.requests) == before  # listings are not chat requests
    one = resolve_model(nbchat.Client(base_url=one_model.url + "/v1", api="openai"), None)
    assert (one.model, one.models, one.note) == ("gpt-only", ["gpt-only"], "")
    scripted.scripts.clear()
    scripted.push(Script(status=404, body=b"{}"))
    none = resolve_model(nbchat.Client(base_url=scripted.url + "/v1", max_retries=0), None)
    assert none.model == "" and none.models == [] and "lists none" in none.note


# ---------------------------------------------------------------- the panel and %%chat


def test_a_panel_without_a_model_uses_the_only_one(one_model: Server) -> None:
    client = nbchat.Client(base_url=one_model.url + "/v1", api="openai")
    panel = nbchat.ChatPanel(client=client, store=False)
    assert panel.model == "gpt-only" and panel.models == ["gpt-only"] and panel.error == ""
    assert panel.send("hi").wait(10).content == "recorded"


def test_a_panel_without_a_model_offers_the_servers_models(live_server: Server) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1")
    panel = nbchat.ChatPanel(client=client, store=False)
    assert panel.model == "" and panel.models == ["demo", "echo", "bench"]
    assert "pick one" in panel.error
    assert panel.get_state()["models"] == ["demo", "echo", "bench"]  # synced to the picker
    with pytest.raises(nbchat.NbchatError, match=r"pick one of \['demo', 'echo', 'bench'\]"):
        panel.send("hi")
    assert panel.messages == []
    panel.model = "echo"  # what the picker's settings intent does
    assert panel.send("hi").wait(10).content == "hi"


def test_a_panel_with_a_model_does_not_ask(scripted: ScriptedServer) -> None:
    scripted.scripts.clear()
    before = len(scripted.requests)
    client = nbchat.Client(base_url=scripted.url + "/egp/v1", api_key="k")
    panel = nbchat.ChatPanel(client=client, model="echo", store=False)
    assert panel.model == "echo" and panel.models == [] and panel.error == ""
    assert len(scripted.requests) == before  # no listing was fetched


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for var in ("SPELLBOOK_API_KEY", "OPENAI_API_KEY", "NBCHAT_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbchat")
    magic.reset(shell)
    yield shell
    magic.reset(shell)


def test_chat_magic_follows_the_same_rule(ip: Any, one_model: Server, live_server: Server) -> None:
    with capture_output():
        ip.run_cell_magic("chat", f"--api openai --base-url {one_model.url}/v1", "hi")
    assert magic.conversation(ip)[-1]["content"] == "recorded"
    assert magic.conversation(ip)[-1]["model"] == "gpt-only"
    magic.reset(ip)
    with capture_output() as cap:
        result = ip.run_cell(f"%%chat --base-url {live_server.url}/egp/v1\nhi")
    assert not result.success
    assert "no model set" in cap.stderr and "pick one of the server's 3" in cap.stderr


def test_resolve_model_asks_once(scripted: ScriptedServer) -> None:
    """A panel waits on the listing: it is not retried, and a failure leaves free text."""
    scripted.scripts.clear()
    before = len(scripted.requests)
    scripted.push(Script(status=503, body=b"busy"))
    client = nbchat.Client(base_url=scripted.url + "/v1", api="openai", api_key="k", max_retries=2)
    choice = resolve_model(client, None)
    assert choice.model == "" and choice.models == []
    assert "listing the models failed: 503" in choice.note
    assert len(scripted.requests) == before + 1
    scripted.scripts.clear()
