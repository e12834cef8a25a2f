"""Answers that are not chat replies get an error that says what came back (issue 10, items 13,
14 and the client side of 10): a JSON body of the wrong shape is a malformed response, not an
empty complete reply; a web page says text/html and suggests checking the URL; a replay
server's 409 and 410 are typed and never retried."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

import nbchat
from nbchat.server import Server, serve
from tests.scripted import Script, ScriptedServer

BASES = {"egp": "/egp/v1", "openai": "/v1"}
EGP_BODY = b'{"chat_completion": {"message": {"role": "agent", "content": "hi"}}}'
OPENAI_BODY = b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}'
PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in - Example Portal</title></head>"
    b"<body><h1>Welcome</h1><p>Please sign in.</p></body></html>"
)


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.stop()


def run(client: nbchat.Client, stream: bool) -> nbchat.Reply:
    if not stream:
        return client.complete("hi", model="m")
    s = client.stream("hi", model="m")
    with s:
        list(s)
    assert s.reply is not None
    return s.reply


def client_for(server: ScriptedServer, api: str) -> nbchat.Client:
    return nbchat.Client(base_url=server.url + BASES[api], api=api, api_key="k", max_retries=0)


# ---------------------------------------------------------------- item 13


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("api", "body", "says"),
    [
        ("openai", b"{}", "no 'choices'"),
        ("openai", EGP_BODY, "no 'choices'"),
        ("openai", b'{"choices": []}', "no 'choices'"),
        ("openai", b'{"choices": [{"index": 0}]}', "choices[0] has no 'message'"),
        ("egp", b"{}", "no 'chat_completion.message'"),
        ("egp", OPENAI_BODY, "no 'chat_completion.message'"),
        ("egp", b'{"chat_completion": {}}', "no 'chat_completion.message'"),
    ],
)
def test_a_json_body_of_the_wrong_shape_is_malformed(
    scripted: ScriptedServer, api: str, body: bytes, says: str, stream: bool
) -> None:
    scripted.push(Script(content_type="application/json", body=body))
    with pytest.raises(nbchat.StreamError) as info:
        run(client_for(scripted, api), stream)
    err = info.value
    assert "malformed response" in err.message and says in err.message
    assert repr(body[:40])[2:-1] in err.message  # a snippet of what came back
    assert err.reply is not None and err.reply.status == "error" and err.reply.content == ""


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("api", "body"), [("openai", OPENAI_BODY), ("egp", EGP_BODY)])
def test_a_well_formed_sync_body_still_works(
    scripted: ScriptedServer, api: str, body: bytes, stream: bool
) -> None:
    scripted.push(Script(content_type="application/json", body=body))
    reply = run(client_for(scripted, api), stream)
    assert reply.content == "hi" and reply.status == "complete"


# ---------------------------------------------------------------- item 14


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", ["egp", "openai"])
@pytest.mark.parametrize(
    ("ctype", "framing"),
    [
        ("text/html; charset=utf-8", "chunked"),
        ("text/html", "content-length"),
        ("application/octet-stream", "close"),  # no text/html, but a page all the same
    ],
)
def test_a_web_page_says_text_html_and_suggests_the_url(
    scripted: ScriptedServer, api: str, stream: bool, ctype: str, framing: str
) -> None:
    scripted.push(Script(content_type=ctype, body=PAGE, framing=framing))
    with pytest.raises(nbchat.StreamError) as info:
        run(client_for(scripted, api), stream)
    msg = info.value.message
    assert "the server answered text/html" in msg
    assert "Sign in - Example Portal" in msg and "<!DOCTYPE html>" in msg
    assert "check the base URL" in msg and scripted.url in msg
    assert "empty response" not in msg


# ---------------------------------------------------------------- item 10, the client side


def _cassette(model: str) -> dict[str, Any]:
    body = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "recorded"},
                "finish_reason": "stop",
            }
        ]
    }
    return {
        "version": 1,
        "exchanges": [
            {
                "api": "openai",
                "path": "/v1/chat/completions",
                "request": {"model": model, "messages": [{"role": "user", "content": "hi"}]},
                "status": 200,
                "content_type": "application/json",
                "response_t": 0.0,
                "body": [[0.0, base64.b64encode(json.dumps(body).encode()).decode()]],
                "reply": None,
            }
        ],
    }


@pytest.fixture
def replay() -> Iterator[Server]:
    with serve(replay=_cassette("gpt-rec"), speed=0) as server:
        yield server


@pytest.mark.parametrize("stream", [False, True])
def test_replay_mismatch_and_exhaustion_are_typed_and_not_retried(
    replay: Server, stream: bool
) -> None:
    client = nbchat.Client(base_url=replay.url + "/v1", api="openai", api_key="k", max_retries=2)

    def send(model: str, text: str = "hi") -> nbchat.Reply:
        if not stream:
            return client.complete(text, model=model)
        s = client.stream(text, model=model)
        with s:
            list(s)
        assert s.reply is not None
        return s.reply

    with pytest.raises(nbchat.ReplayMismatchError) as info:
        send("another-model")
    assert isinstance(info.value, nbchat.APIError)
    assert not isinstance(info.value, nbchat.ServerError | nbchat.BadRequestError)
    assert info.value.status == 409 and "Replay mismatch" in info.value.message
    assert "another-model" in info.value.message or "model" in info.value.message
    assert len(replay.requests) == 1, "a deterministic 409 was retried"

    if not stream:
        assert send("gpt-rec").content == "recorded"
    else:  # the cassette is a sync answer: the stream request differs in "stream"
        with pytest.raises(nbchat.ReplayMismatchError):
            send("gpt-rec")
        return
    with pytest.raises(nbchat.ReplayExhaustedError) as done:
        send("gpt-rec")
    assert done.value.status == 410 and "exhausted" in done.value.message
    assert "bad request" not in done.value.message
    assert len(replay.requests) == 3, "a deterministic 410 was retried"


def test_replay_errors_are_not_retried_even_if_the_server_asked(monkeypatch: Any) -> None:
    """The policy itself refuses: a stray ``x-should-retry: true`` cannot make it retry."""
    from nbchat.client import retry

    for err in (nbchat.ReplayMismatchError("m", 409), nbchat.ReplayExhaustedError("e", 410)):
        assert retry.delay(err, {"x-should-retry": "true"}, 0, 2) is None
