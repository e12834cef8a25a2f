"""nbchat.Client against real servers on 127.0.0.1: the embedded server and the scripted one.

No request is mocked. The embedded server (``live_server``) supplies the fault modes
(``demo?fault=MODE&...``); ``tests.scripted.ScriptedServer`` captures the exact payload and
headers the client puts on the wire. PROTOCOL.md sections 5 and 6 are the reference.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import nbchat
import nbchat.client.retry
from nbchat.server import Server, serve
from tests.scripted import Script, ScriptedServer

pytestmark = pytest.mark.timeout(30)

BASES = {"egp": "/egp/v1", "openai": "/v1"}
QUESTION = [{"role": "user", "content": "What is a token?"}]
CANARY = "sk-canary-5f3a9e"

_uniq = itertools.count(150)


def uniq() -> int:
    """A number that makes a model string unique (the server counts ``times=`` per string).

    Also used as a long ``stall=`` (150 s and more), under the server's cap of 300 s.
    """
    return next(_uniq)


def client_for(server: Server, api: str, **kw: Any) -> nbchat.Client:
    kw.setdefault("api_key", "k")
    return nbchat.Client(api=api, base_url=server.url + BASES[api], **kw)


def requests_for(server: Server, model: str) -> int:
    """How many chat requests the embedded server saw for this exact model string."""
    return sum(1 for r in server.requests if r["model"] == model)


def consume(stream: nbchat.Stream) -> tuple[list[nbchat.Chunk], BaseException | None]:
    """Iterate a stream to its end; return the chunks and the exception (if any)."""
    chunks: list[nbchat.Chunk] = []
    try:
        with stream:
            for chunk in stream:
                chunks.append(chunk)
    except nbchat.APIError as exc:
        return chunks, exc
    return chunks, None


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(params=["egp", "openai"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Header-less backoff in milliseconds, so retry tests stay fast (server delays still hold)."""
    monkeypatch.setattr(nbchat.client.retry, "BACKOFF_BASE_S", 0.01)


@pytest.fixture(scope="module")
def _scripted_server() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    yield s
    s.stop()


@pytest.fixture
def scripted(_scripted_server: ScriptedServer) -> ScriptedServer:
    _scripted_server.scripts.clear()
    _scripted_server.requests.clear()
    return _scripted_server


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[Server]:
    with serve(api_key=CANARY, tokens_per_second=0) as server:
        yield server


# ---------------------------------------------------------------- complete() and stream()


def test_same_text_on_both_apis_and_both_modes(live_server: Server) -> None:
    texts = []
    for api_name in BASES:
        c = client_for(live_server, api_name)
        texts.append(c.complete(QUESTION, model="demo").content)
        chunks, exc = consume(s := c.stream(QUESTION, model="demo"))
        assert exc is None
        assert s.reply is not None
        texts.append(s.reply.content)
        texts.append("".join(ch.delta for ch in chunks))
    assert texts[0]
    assert len(set(texts)) == 1, texts


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_reply_fields(live_server: Server, api: str, mode: str) -> None:
    c = client_for(live_server, api)
    if mode == "complete":
        reply = c.complete(QUESTION, model="demo")
    else:
        s = c.stream(QUESTION, model="demo")
        chunks, exc = consume(s)
        assert exc is None and s.reply is not None
        reply = s.reply
        assert "".join(ch.delta for ch in chunks) == reply.content
        assert sum(1 for ch in chunks if ch.delta) > 10  # really streamed in pieces
        assert s.requests_made == 1
    assert reply.role == "assistant"
    assert reply.status == "complete"
    assert reply.error is None
    assert reply.finish_reason == "stop"
    assert reply.model == "demo"
    assert reply.api == api
    assert reply.content.startswith("**About tokens:**")
    u = reply.usage
    assert u is not None
    assert u.prompt and u.completion and u.total
    assert u.prompt > 0 and u.completion > 0
    assert u.total == u.prompt + u.completion
    assert reply.ttft is not None and reply.latency is not None
    assert 0 <= reply.ttft <= reply.latency
    assert reply.to_message() == {"role": "assistant", "content": reply.content}


def test_max_tokens_gives_length(live_server: Server, api: str) -> None:
    c = client_for(live_server, api)
    reply = c.complete(QUESTION, model="demo", max_tokens=5)
    assert reply.finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion == 5
    full = c.complete(QUESTION, model="demo").content
    assert full.startswith(reply.content) and len(reply.content) < len(full)
    s = c.stream(QUESTION, model="demo", max_tokens=5)
    consume(s)
    assert s.reply is not None
    assert (s.reply.content, s.reply.finish_reason) == (reply.content, "length")


def test_stop_cuts_text(live_server: Server, api: str) -> None:
    c = client_for(live_server, api)
    said = [{"role": "user", "content": "alpha beta STOPHERE gamma delta"}]
    assert c.complete(said, model="echo").content == said[0]["content"]
    for reply in (
        c.complete(said, model="echo", stop="STOPHERE"),
        c.complete(said, model="echo", stop=["nothing", "STOPHERE"]),
    ):
        assert "STOPHERE" not in reply.content and "gamma" not in reply.content
        assert reply.content.startswith("alpha beta")
    s = c.stream(said, model="echo", stop=["STOPHERE"])
    consume(s)
    assert s.reply is not None and s.reply.content.startswith("alpha beta")
    assert "gamma" not in s.reply.content


def test_unknown_parameter_is_config_error(live_server: Server, api: str) -> None:
    c = client_for(live_server, api)
    before = len(live_server.requests)
    with pytest.raises(nbchat.ConfigError, match="frequency_penalty"):
        c.complete(QUESTION, model="demo", frequency_penalty=0.5)
    with pytest.raises(nbchat.ConfigError):
        c.stream(QUESTION, model="demo", temprature=0.1)
    assert len(live_server.requests) == before
    with pytest.raises(nbchat.ConfigError):
        nbchat.Client(api=api, base_url=live_server.url, max_retries=-1)


def test_stream_iterates_once(live_server: Server) -> None:
    s = client_for(live_server, "egp").stream(QUESTION, model="demo")
    consume(s)
    with pytest.raises(RuntimeError):
        iter(s)


# ---------------------------------------------------------------- the payload on the wire

EGP_SSE = (
    b'data: {"chat_completion": {"message": {"role": "agent", "content": "Hel"}}}\n\n'
    b'data: {"chat_completion": {"message": {"role": "agent", "content": "lo"}, '
    b'"finish_reason": "stop"}, "token_usage": {"prompt": 3, "completion": 2, "total": 5}}\n\n'
)
EGP_JSON = (
    b'{"chat_completion": {"message": {"role": "agent", "content": "Hello"}, '
    b'"finish_reason": "stop"}, "token_usage": {"prompt": 3, "completion": 2, "total": 5}}'
)
OPENAI_SSE = (
    b'data: {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}\n\n'
    b'data: {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}\n\n'
    b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, '
    b'"total_tokens": 5}}\n\n'
    b"data: [DONE]\n\n"
)
OPENAI_JSON = (
    b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, '
    b'"finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2, '
    b'"total_tokens": 5}}'
)

HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "one"},
    {"role": "agent", "content": "first answer"},
    {"role": "user", "content": "two"},
    {"role": "assistant", "content": ""},  # an error turn: never sent
    {"role": "assistant", "content": None},
    {"role": "user", "content": "three"},
]
SENT_HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "one"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "two"},
    {"role": "user", "content": "three"},
]


def _ok(api: str, stream: bool) -> Script:
    if api == "egp":
        body = EGP_SSE if stream else EGP_JSON
    else:
        body = OPENAI_SSE if stream else OPENAI_JSON
    ctype = "text/event-stream" if stream else "application/json"
    return Script(content_type=ctype, body=body)


def _scripted_client(scripted: ScriptedServer, api: str, **kw: Any) -> nbchat.Client:
    kw.setdefault("api_key", "k")
    return nbchat.Client(api=api, base_url=scripted.url + BASES[api], **kw)


def test_egp_payload_and_headers(scripted: ScriptedServer) -> None:
    c = _scripted_client(scripted, "egp")
    scripted.push(_ok("egp", True))
    s = c.stream(HISTORY, model="m", temperature=0.2, max_tokens=7, stop="END", top_p=0.9, top_k=40)
    consume(s)
    assert s.reply is not None and s.reply.content == "Hello" and s.reply.status == "complete"
    req = scripted.requests[-1]
    assert req["method"] == "POST"
    assert req["path"] == "/egp/v1/chat-completions"
    assert req["headers"]["x-api-key"] == "k"
    assert "authorization" not in req["headers"]
    assert req["headers"]["content-type"].startswith("application/json")
    assert req["json"] == {
        "model": "m",
        "messages": SENT_HISTORY,
        "stream": True,
        "model_parameters": {
            "temperature": 0.2,
            "max_tokens": 7,
            "stop_sequences": ["END"],
            "topP": 0.9,
            "topK": 40,
        },
    }


def test_egp_payload_sends_only_what_is_set(scripted: ScriptedServer) -> None:
    c = _scripted_client(scripted, "egp")
    scripted.push(_ok("egp", False))
    reply = c.complete(QUESTION, model="m")
    assert reply.content == "Hello"
    body = scripted.requests[-1]["json"]
    assert body == {"model": "m", "messages": QUESTION}
    scripted.push(_ok("egp", False))
    c.complete(QUESTION, model="m", temperature=0, top_k=None)  # 0 is a value; None is unset
    assert scripted.requests[-1]["json"]["model_parameters"] == {"temperature": 0}


def test_openai_payload_and_headers(scripted: ScriptedServer) -> None:
    c = _scripted_client(scripted, "openai")
    scripted.push(_ok("openai", True))
    s = c.stream(HISTORY, model="gpt-x", temperature=0.5, max_tokens=9, stop=["a", "b"], top_p=1)
    consume(s)
    assert s.reply is not None and s.reply.content == "Hello"
    assert s.reply.usage == nbchat.Usage(3, 2, 5)
    req = scripted.requests[-1]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer k"
    assert "x-api-key" not in req["headers"]
    assert req["json"] == {
        "model": "gpt-x",
        "messages": SENT_HISTORY,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
        "max_tokens": 9,
        "stop": ["a", "b"],
        "top_p": 1,
    }
    scripted.push(_ok("openai", False))
    reply = c.complete(QUESTION, model="gpt-x")
    assert reply.content == "Hello" and reply.finish_reason == "stop"
    assert scripted.requests[-1]["json"] == {"model": "gpt-x", "messages": QUESTION}


def test_openai_include_usage_off_and_custom_auth_header(scripted: ScriptedServer) -> None:
    c = _scripted_client(scripted, "openai", include_usage=False, auth_header="x-api-key")
    scripted.push(_ok("openai", True))
    consume(c.stream(QUESTION, model="m"))
    req = scripted.requests[-1]
    assert "stream_options" not in req["json"]
    assert req["headers"]["x-api-key"] == "k"
    assert "authorization" not in req["headers"]


def test_openai_retries_once_without_stream_options(scripted: ScriptedServer) -> None:
    c = _scripted_client(scripted, "openai")
    scripted.push(
        Script(
            status=400,
            content_type="application/json",
            framing="content-length",
            body=b'{"error": {"message": "Unrecognized request argument: stream_options"}}',
        )
    )
    scripted.push(_ok("openai", True))
    s = c.stream(QUESTION, model="m")
    _, exc = consume(s)
    assert exc is None and s.reply is not None and s.reply.content == "Hello"
    assert [("stream_options" in r["json"]) for r in scripted.requests] == [True, False]


def test_max_completion_tokens_for_api_openai_com() -> None:
    official = nbchat.Client(api="openai", base_url="https://api.openai.com/v1", api_key="k")
    body = official.request(QUESTION, "gpt-4o", max_tokens=5).payload
    assert body["max_completion_tokens"] == 5 and "max_tokens" not in body
    other = nbchat.Client(api="openai", base_url="http://localhost:8000/v1", api_key="k")
    body = other.request(QUESTION, "m", max_tokens=5).payload
    assert body["max_tokens"] == 5 and "max_completion_tokens" not in body
    forced = nbchat.Client(
        api="openai", base_url="http://x/v1", api_key="k", max_tokens_field="max_completion_tokens"
    )
    assert (
        "max_completion_tokens" in forced.request(QUESTION, "m", stream=False, max_tokens=5).payload
    )


def test_extra_is_merged(scripted: ScriptedServer, api: str) -> None:
    c = _scripted_client(scripted, api)
    scripted.push(_ok(api, False))
    c.complete(QUESTION, model="m", temperature=0.1, extra={"user": "u-1", "metadata": {"a": 1}})
    body = scripted.requests[-1]["json"]
    assert body["user"] == "u-1" and body["metadata"] == {"a": 1}
    assert body["model"] == "m" and body["messages"] == QUESTION


def test_defaults_from_environment(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBCHAT_BASE_URL", scripted.url + "/egp/v1/")
    monkeypatch.setenv("SPELLBOOK_API_KEY", "env-egp-key")
    monkeypatch.setenv("OPENAI_BASE_URL", scripted.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "env-openai-key")
    egp = nbchat.Client()
    assert egp.api == "egp" and egp.base_url == scripted.url + "/egp/v1" and egp.has_key
    scripted.push(_ok("egp", False))
    egp.complete(QUESTION, model="m")
    assert scripted.requests[-1]["path"] == "/egp/v1/chat-completions"
    assert scripted.requests[-1]["headers"]["x-api-key"] == "env-egp-key"

    oai = nbchat.Client(api="openai")
    scripted.push(_ok("openai", False))
    oai.complete(QUESTION, model="m")
    assert scripted.requests[-1]["path"] == "/v1/chat/completions"
    assert scripted.requests[-1]["headers"]["authorization"] == "Bearer env-openai-key"

    explicit = nbchat.Client(api="openai", base_url=scripted.url + "/v1", api_key="arg-key")
    scripted.push(_ok("openai", False))
    explicit.complete(QUESTION, model="m")
    assert scripted.requests[-1]["headers"]["authorization"] == "Bearer arg-key"

    for name in ("NBCHAT_BASE_URL", "SPELLBOOK_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name)
    assert nbchat.Client().base_url == "https://api.spellbook.scale.com/egp/v1"
    assert nbchat.Client(api="openai").base_url == "https://api.openai.com/v1"
    assert not nbchat.Client().has_key


# ---------------------------------------------------------------- fault modes

STATUS_FAULTS = [
    # fault, exception, status, words the message must contain
    ("401", nbchat.AuthenticationError, 401, ["401", "authentication failed", "API key"]),
    ("403", nbchat.AuthenticationError, 403, ["403", "permission denied"]),
    ("404", nbchat.NotFoundError, 404, ["404", "not found", "demo"]),
    ("422", nbchat.BadRequestError, 422, ["422", "messages", "field required"]),
    ("429", nbchat.RateLimitError, 429, ["429", "rate limit"]),
    ("500", nbchat.ServerError, 500, ["500", "The server had an error"]),
    ("502", nbchat.ServerError, 502, ["502", "Bad Gateway", "nginx"]),
]


def _readable(message: str) -> None:
    assert message and "Traceback" not in message and len(message) < 600
    assert "\n" not in message  # one line for the status bar


@pytest.mark.parametrize("mode", ["complete", "stream"])
@pytest.mark.parametrize(("fault", "etype", "status", "words"), STATUS_FAULTS)
def test_status_faults(
    live_server: Server, api: str, mode: str, fault: str, etype: type, status: int, words: list
) -> None:
    c = client_for(live_server, api, max_retries=0)
    model = f"demo?fault={fault}&stall={uniq()}"
    if mode == "complete":
        with pytest.raises(etype) as info:
            c.complete(QUESTION, model=model)
        exc = info.value
    else:
        s = c.stream(QUESTION, model=model)
        chunks, exc = consume(s)
        assert chunks == [] and isinstance(exc, etype)
        assert s.reply is not None and s.reply.status == "error" and s.reply.content == ""
        assert s.reply.error == exc.message
    assert type(exc) is etype
    assert exc.status == status
    for word in words:
        assert word.lower() in exc.message.lower(), exc.message
    assert str(exc) == exc.message
    _readable(exc.message)
    if fault == "429":
        assert exc.retry_after == 1.0
    assert requests_for(live_server, model) == 1
    assert c.complete(QUESTION, model="demo").status == "complete"  # the client still works


STREAM_FAULTS = [
    # fault, words, reply status, partial kept (non-empty)
    ("malformed", ["malformed chunk"], "error", True),
    ("drop", ["dropped"], "incomplete", True),
    ("error-event", ["overloaded"], "error", True),
    ("event-error", ["overloaded"], "error", True),
    ("error-field", ["context size"], "error", True),
    ("empty", ["empty response"], "error", False),
]


@pytest.mark.parametrize(("fault", "words", "status", "has_partial"), STREAM_FAULTS)
def test_stream_faults_keep_partial(
    live_server: Server, api: str, fault: str, words: list, status: str, has_partial: bool
) -> None:
    c = client_for(live_server, api)  # retries on: none may happen (output was shown)
    model = f"demo?fault={fault}&after=3&stall={uniq()}"
    s = c.stream(QUESTION, model=model)
    chunks, exc = consume(s)
    assert type(exc) is nbchat.StreamError, exc
    assert s.reply is not None
    assert s.reply.status == status
    assert exc.reply is s.reply
    assert exc.partial == s.reply.content == "".join(ch.delta for ch in chunks)
    assert s.reply.error == exc.message
    if has_partial:
        assert exc.partial and "**About" in exc.partial
        full = c.complete(QUESTION, model="demo").content
        assert full.startswith(exc.partial) and len(exc.partial) < len(full)
    else:
        assert exc.partial == "" and chunks == []
    for word in words:
        assert word in exc.message, exc.message
    _readable(exc.message)
    assert s.requests_made == 1
    assert requests_for(live_server, model) == 1
    assert c.complete(QUESTION, model="demo").status == "complete"


def test_json_body_answers_a_stream(live_server: Server, api: str) -> None:
    c = client_for(live_server, api)
    s = c.stream(QUESTION, model="demo?fault=json")
    chunks, exc = consume(s)
    assert exc is None and s.reply is not None
    assert s.reply.status == "complete"
    assert s.reply.content == c.complete(QUESTION, model="demo").content
    assert "".join(ch.delta for ch in chunks) == s.reply.content
    assert s.reply.usage is not None and s.reply.usage.total


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        ("malformed", "malformed response"),
        ("drop", "dropped"),
        ("empty", "empty response"),
        ("error-event", None),
        ("event-error", None),
        ("error-field", None),
        ("json", None),
    ],
)
def test_complete_faults(live_server: Server, api: str, fault: str, outcome: str | None) -> None:
    c = client_for(live_server, api)
    model = f"demo?fault={fault}&stall={uniq()}"
    if outcome is None:  # stream-only faults do not change a sync reply
        reply = c.complete(QUESTION, model=model)
        assert reply.status == "complete" and reply.content.startswith("**About")
        return
    with pytest.raises(nbchat.StreamError) as info:
        c.complete(QUESTION, model=model)
    exc = info.value
    assert outcome in exc.message
    _readable(exc.message)
    assert exc.reply is not None
    assert exc.reply.status == ("incomplete" if fault == "drop" else "error")
    assert exc.partial == exc.reply.content
    assert requests_for(live_server, model) == 1
    assert c.complete(QUESTION, model="demo").status == "complete"


# ---------------------------------------------------------------- retry policy


def test_retry_500_once_then_succeed(live_server: Server, api: str) -> None:
    c = client_for(live_server, api)
    model = f"demo?fault=500&times=1&after={uniq()}"
    s = c.stream(QUESTION, model=model)
    _, exc = consume(s)
    assert exc is None and s.reply is not None and s.reply.status == "complete"
    assert s.requests_made == 2
    assert requests_for(live_server, model) == 2
    model = f"demo?fault=502&times=2&after={uniq()}"
    assert c.complete(QUESTION, model=model).status == "complete"
    assert requests_for(live_server, model) == 3


def test_retries_at_most_max_retries(live_server: Server) -> None:
    c = client_for(live_server, "egp", max_retries=2)
    model = f"demo?fault=500&after={uniq()}"
    with pytest.raises(nbchat.ServerError):
        c.complete(QUESTION, model=model)
    assert requests_for(live_server, model) == 3


def test_max_retries_zero_sends_one_request(live_server: Server, api: str) -> None:
    c = client_for(live_server, api, max_retries=0)
    model = f"demo?fault=500&times=1&after={uniq()}"
    s = c.stream(QUESTION, model=model)
    _, exc = consume(s)
    assert isinstance(exc, nbchat.ServerError)
    assert s.requests_made == 1 and requests_for(live_server, model) == 1


def test_no_retry_on_client_errors(live_server: Server) -> None:
    c = client_for(live_server, "egp", max_retries=2)
    for fault in ("401", "403", "404", "422"):
        model = f"demo?fault={fault}&after={uniq()}"
        with pytest.raises(nbchat.APIError):
            c.complete(QUESTION, model=model)
        assert requests_for(live_server, model) == 1, fault


def test_429_retry_after_is_honoured(live_server: Server, api: str) -> None:
    c = client_for(live_server, api)
    model = f"demo?fault=429&times=1&retry_after=1&after={uniq()}"
    t0 = time.monotonic()
    reply = c.complete(QUESTION, model=model)
    elapsed = time.monotonic() - t0
    assert reply.status == "complete"
    assert requests_for(live_server, model) == 2
    assert elapsed >= 0.95, elapsed
    assert elapsed < 3


def test_429_retry_after_above_cap_fails_at_once(live_server: Server, api: str) -> None:
    c = client_for(live_server, api, max_retries=2)
    model = f"demo?fault=429&retry_after=120&after={uniq()}"
    t0 = time.monotonic()
    with pytest.raises(nbchat.RateLimitError) as info:
        c.complete(QUESTION, model=model)
    assert time.monotonic() - t0 < 0.5
    assert info.value.retry_after == 120
    assert requests_for(live_server, model) == 1


@pytest.mark.parametrize("fault", ["drop", "error-event", "malformed"])
def test_never_retry_after_output(live_server: Server, fault: str) -> None:
    c = client_for(live_server, "openai", max_retries=2)
    model = f"demo?fault={fault}&after=2&times=1&stall={uniq()}"  # a retry would succeed
    s = c.stream(QUESTION, model=model)
    chunks, exc = consume(s)
    assert isinstance(exc, nbchat.StreamError) and chunks
    assert s.requests_made == 1 and requests_for(live_server, model) == 1


def test_connection_refused(api: str) -> None:
    port = closed_port()
    c = nbchat.Client(api=api, base_url=f"http://127.0.0.1:{port}{BASES[api]}", max_retries=2)
    s = c.stream(QUESTION, model="demo")
    chunks, exc = consume(s)
    assert chunks == []
    assert type(exc) is nbchat.APIConnectionError
    assert exc.status is None
    assert f"127.0.0.1:{port}" in exc.message
    assert "could not connect" in exc.message
    _readable(exc.message)
    assert s.requests_made == 3
    assert s.reply is not None and s.reply.status == "error"
    c0 = nbchat.Client(api=api, base_url=f"http://127.0.0.1:{port}{BASES[api]}", max_retries=0)
    s0 = c0.stream(QUESTION, model="demo")
    consume(s0)
    assert s0.requests_made == 1


def test_stall_before_headers_times_out(live_server: Server, api: str) -> None:
    c = client_for(live_server, api, timeout=(2, 0.5), max_retries=0)
    t0 = time.monotonic()
    with pytest.raises(nbchat.APIConnectionError) as info:
        c.complete(QUESTION, model=f"demo?fault=stall&stall=1.5&after={uniq()}")
    assert time.monotonic() - t0 < 1.4
    assert "timed out" in info.value.message
    _readable(info.value.message)
    assert c.complete(QUESTION, model="demo").status == "complete"
    # a timeout before any output is retried
    retrying = client_for(live_server, api, timeout=(2, 0.5), max_retries=1)
    model = f"demo?fault=stall&stall=1.5&times=1&after={uniq()}"
    assert retrying.complete(QUESTION, model=model).status == "complete"
    assert requests_for(live_server, model) == 2


def test_stall_mid_stream_times_out_with_partial(live_server: Server, api: str) -> None:
    c = client_for(live_server, api, timeout=(2, 0.5))
    model = f"demo?fault=stall-mid&stall=1.5&after=3&retry_after={uniq()}"
    t0 = time.monotonic()
    s = c.stream(QUESTION, model=model)
    chunks, exc = consume(s)
    assert time.monotonic() - t0 < 1.4
    assert type(exc) is nbchat.StreamError
    assert s.reply is not None and s.reply.status == "incomplete"
    assert exc.partial and exc.partial == s.reply.content == "".join(c.delta for c in chunks)
    _readable(exc.message)
    assert s.requests_made == 1 and requests_for(live_server, model) == 1
    assert c.complete(QUESTION, model="demo").status == "complete"


# ---------------------------------------------------------------- Stream.close()


def _close_later(stream: nbchat.Stream, delay: float, when: list[float]) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        when.append(time.monotonic())
        stream.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_close_from_another_thread_ends_a_stalled_stream(live_server: Server, api: str) -> None:
    c = client_for(live_server, api)
    s = c.stream(QUESTION, model="demo?fault=stall-mid&stall=10&after=3")
    when: list[float] = []
    chunks: list[nbchat.Chunk] = []
    with s:
        it = iter(s)
        chunks.append(next(it))  # the stream is running
        _close_later(s, 0.2, when)
        chunks.extend(it)  # no exception may escape
    ended = time.monotonic()
    assert when, "close() was not called"
    took = ended - when[0]
    assert took < 0.2, f"close() took {took:.3f}s to end the stream"
    assert s.reply is not None
    assert s.reply.status == "cancelled"
    assert s.cancelled
    assert s.reply.content and s.reply.content == "".join(ch.delta for ch in chunks)
    assert c.complete(QUESTION, model="demo").status == "complete"


def test_close_before_iteration_sends_nothing(live_server: Server, api: str) -> None:
    c = client_for(live_server, api)
    model = f"demo?fault=500&after={uniq()}"
    s = c.stream(QUESTION, model=model)
    s.close()
    assert list(s) == []
    assert s.requests_made == 0 and requests_for(live_server, model) == 0
    assert s.reply is not None and s.reply.status == "cancelled" and s.reply.content == ""


def test_close_cancels_a_pending_retry(live_server: Server, api: str) -> None:
    c = client_for(live_server, api, max_retries=2)
    model = f"demo?fault=429&retry_after=10&after={uniq()}"
    s = c.stream(QUESTION, model=model)
    when: list[float] = []
    _close_later(s, 0.3, when)
    chunks, exc = consume(s)
    ended = time.monotonic()
    assert exc is None and chunks == []
    assert ended - when[0] < 0.2
    assert s.reply is not None and s.reply.status == "cancelled"
    assert s.requests_made == 1 and requests_for(live_server, model) == 1
    assert c.complete(QUESTION, model="demo").status == "complete"


def test_close_while_waiting_for_headers(live_server: Server) -> None:
    c = client_for(live_server, "egp", max_retries=0)
    s = c.stream(QUESTION, model=f"demo?fault=stall&stall=1.5&after={uniq()}")
    when: list[float] = []
    _close_later(s, 0.2, when)
    consume(s)
    took = time.monotonic() - when[0]
    assert s.reply is not None and s.reply.status == "cancelled"
    assert took < 0.2, f"close() took {took:.3f}s"


# ---------------------------------------------------------------- secrets


def test_canary_key_never_leaks(
    live_server: Server, caplog: pytest.LogCaptureFixture, api: str
) -> None:
    caplog.set_level(logging.DEBUG)
    c = client_for(live_server, api, api_key=CANARY, timeout=(2, 0.5), max_retries=1)
    assert CANARY not in repr(c) and CANARY not in str(c)
    assert c.has_key
    seen: list[BaseException] = []
    replies: list[nbchat.Reply] = [c.complete(QUESTION, model="demo")]
    s = c.stream(QUESTION, model="demo")
    consume(s)
    assert s.reply is not None
    replies.append(s.reply)
    models = [f"demo?fault={f}&stall={uniq()}" for f in ("401", "403", "404", "422", "502")]
    models += [f"demo?fault=429&retry_after=0&after={uniq()}"]
    models += [f"demo?fault=500&times=1&after={uniq()}", f"demo?fault=500&after={uniq()}"]
    models += [f"demo?fault={f}&stall={uniq()}" for f in ("malformed", "drop", "event-error")]
    models += [f"demo?fault=stall-mid&stall=0.6&retry_after={uniq()}"]
    for model in models:
        for mode in ("complete", "stream"):
            try:
                if mode == "complete":
                    replies.append(c.complete(QUESTION, model=model))
                else:
                    st = c.stream(QUESTION, model=model)
                    _, exc = consume(st)
                    assert st.reply is not None
                    replies.append(st.reply)
                    assert CANARY not in repr(st)
                    if exc is not None:
                        raise exc
            except nbchat.APIError as exc:
                seen.append(exc)
    refused = nbchat.Client(
        api=api, base_url=f"http://127.0.0.1:{closed_port()}/v1", api_key=CANARY
    )
    try:
        refused.complete(QUESTION, model="demo")
    except nbchat.APIError as exc:
        seen.append(exc)
    assert len(seen) >= 15
    for exc in seen:
        assert CANARY not in repr(exc) and CANARY not in str(exc)
        assert CANARY not in getattr(exc, "message", "")
        reply = getattr(exc, "reply", None)
        if reply is not None:
            replies.append(reply)
    for reply in replies:
        assert CANARY not in json.dumps(reply.to_dict(), default=str)
        assert CANARY not in repr(reply)
    assert caplog.records, "expected DEBUG log output from the client"
    assert CANARY not in caplog.text
    for record in caplog.records:
        assert CANARY not in record.getMessage()


def test_keyed_server_rejects_wrong_key(
    keyed_server: Server, api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SPELLBOOK_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    wrong = "sk-wrong-0c1d2e"
    c = client_for(keyed_server, api, api_key=wrong)
    with pytest.raises(nbchat.AuthenticationError) as info:
        c.complete(QUESTION, model="demo")
    exc = info.value
    assert exc.status == 401
    for text in (exc.message, str(exc), repr(exc)):
        assert CANARY not in text and wrong not in text
    assert "API key" in exc.message
    s = c.stream(QUESTION, model="demo")
    _, exc2 = consume(s)
    assert isinstance(exc2, nbchat.AuthenticationError)
    assert wrong not in exc2.message and CANARY not in exc2.message
    nokey = nbchat.Client(api=api, base_url=keyed_server.url + BASES[api])
    with pytest.raises(nbchat.AuthenticationError, match="Missing API key"):
        nokey.complete(QUESTION, model="demo")
    good = client_for(keyed_server, api, api_key=CANARY)
    assert good.complete(QUESTION, model="demo").status == "complete"
