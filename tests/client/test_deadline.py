"""A per-request deadline, and the SSE size limit as the stream reports it (issue 10, item 17)."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

import nbchat
import nbchat.client.stream as stream_module
from nbchat.server import Server
from nbchat.transport.sse import SSEDecoder
from tests.scripted import Script, ScriptedServer

pytestmark = pytest.mark.timeout(30)

QUESTION = [{"role": "user", "content": "What is a token?"}]


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.stop()


def _egp_event(text: str) -> bytes:
    body = {"chat_completion": {"message": {"role": "agent", "content": text}}, "token_usage": None}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _run(stream: nbchat.Stream) -> tuple[str, BaseException | None]:
    text = ""
    try:
        with stream:
            for chunk in stream:
                text += chunk.delta
    except nbchat.APIError as exc:
        return text, exc
    return text, None


def test_deadline_ends_a_stream_kept_open_by_keep_alive_comments(scripted: ScriptedServer) -> None:
    event = _egp_event("Hello")
    comment = b":" + b"k" * (len(event) - 3) + b"\n\n"  # one piece each, 20 per second
    scripted.push(Script(body=event + comment * 200, piece=len(event), delay=0.05))
    # The read timeout never fires: bytes keep arriving. Only the deadline can end it.
    client = nbchat.Client(
        base_url=scripted.url + "/egp/v1", api_key="k", timeout=(5, 2), deadline=0.6
    )
    stream = client.stream(QUESTION, model="m")
    text, exc = _run(stream)
    assert type(exc) is nbchat.StreamError
    assert exc.message == "deadline of 0.6 s exceeded"
    assert text == exc.partial == "Hello"
    assert stream.reply is not None and stream.reply.status == "incomplete"
    assert stream.reply.content == "Hello" and stream.reply.error == exc.message


@pytest.mark.parametrize("api", ["egp", "openai"])
def test_deadline_ends_a_stalled_stream_with_its_partial_text(
    live_server: Server, api: str
) -> None:
    base = live_server.url + ("/egp/v1" if api == "egp" else "/v1")
    client = nbchat.Client(base_url=base, api_key="k", api=api, deadline=0.5, max_retries=0)
    stream = client.stream(QUESTION, model="demo?fault=stall-mid&stall=20&after=3")
    text, exc = _run(stream)
    assert type(exc) is nbchat.StreamError
    assert "deadline of 0.5 s exceeded" in exc.message
    assert text and exc.partial == text
    assert stream.reply is not None and stream.reply.status == "incomplete"
    assert stream.reply.content == text
    # the same client goes on working, and a stream within the deadline is untouched
    assert client.complete(QUESTION, model="demo").status == "complete"


def test_a_stream_within_its_deadline_completes(live_server: Server) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", api_key="k", deadline=60)
    stream = client.stream(QUESTION, model="demo")
    text, exc = _run(stream)
    assert exc is None and stream.reply is not None and stream.reply.status == "complete"
    assert text == stream.reply.content


def test_deadline_also_bounds_a_server_that_never_answers(live_server: Server) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", api_key="k", deadline=0.4)
    with pytest.raises(nbchat.StreamError, match=r"deadline of 0\.4 s exceeded") as info:
        client.complete(QUESTION, model="demo?fault=stall&stall=20")
    assert info.value.reply is not None and info.value.reply.status == "incomplete"
    assert info.value.partial == ""


def test_deadline_is_checked_at_construction() -> None:
    assert nbchat.Client(api_key="k").deadline is None
    client = nbchat.Client(api_key="k", deadline=2)
    assert client.deadline == 2.0
    assert client.request(QUESTION, model="m").deadline == 2.0
    for bad in (0, -1, math.nan, math.inf, "5", True):
        with pytest.raises(nbchat.ConfigError, match="deadline"):
            nbchat.Client(api_key="k", deadline=bad)  # type: ignore[arg-type]


def test_a_line_over_the_size_limit_is_a_stream_error_naming_it(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit is 16 MiB; a decoder with a small one stands in for it here.
    monkeypatch.setattr(stream_module, "SSEDecoder", functools.partial(SSEDecoder, max_size=1000))
    body = _egp_event("Hi") + b"data: " + b"x" * 5000
    scripted.push(Script(body=body, piece=512))
    client = nbchat.Client(base_url=scripted.url + "/egp/v1", api_key="k")
    stream = client.stream(QUESTION, model="m")
    text, exc = _run(stream)
    assert type(exc) is nbchat.StreamError
    assert "longer than the limit of 1,000 characters" in exc.message
    assert text == exc.partial == "Hi"
    assert stream.reply is not None and stream.reply.status == "error"


def test_the_default_limit_is_named_in_the_error() -> None:
    from nbchat.transport.sse import EventTooLarge

    message: Any = str(EventTooLarge(16 * 1024 * 1024))
    assert "16 MiB" in message
