"""The embedded server under abuse, while a real stream is running on it.

``tests/server/test_app.py`` already covers the basic validation table, 1 MiB bodies, unknown
paths/methods and auth on sync requests; this file adds what it does not: abuse *during* a
stream, 10 MiB bodies with and without Content-Length, hostile JSON (deep nesting, non-UTF-8,
NaN/Infinity, huge counts), huge ``max_tokens`` on streams, the default bind address, and
streaming requests without the key.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

import nbchat
from nbchat.server import Server, serve

EGP = "/egp/v1/chat-completions"
OPENAI = "/v1/chat/completions"
PATHS = [EGP, OPENAI]
MSGS = [{"role": "user", "content": "What is a token?"}]
TEN_MIB = 10 * 1024 * 1024


def _post(server: Server, path: str, **kw: Any) -> requests.Response:
    kw.setdefault("timeout", 30)
    return requests.post(server.url + path, **kw)


def _message(path: str, response: requests.Response) -> str:
    data = response.json()
    if path == EGP or "detail" in data:
        detail = data["detail"]
        if isinstance(detail, str):
            return detail
        return "; ".join(".".join(map(str, d["loc"])) + ": " + d["msg"] for d in detail)
    return str(data["error"]["message"])


def _alive(server: Server) -> None:
    r = _post(server, EGP, json={"model": "echo", "messages": [{"role": "user", "content": "ok"}]})
    assert r.status_code == 200 and r.json()["chat_completion"]["message"]["content"] == "ok"


def _ten_mib_chunks() -> Iterator[bytes]:
    yield b'{"model": "demo", "messages": [{"role": "user", "content": "'
    for _ in range(TEN_MIB // 65536):
        yield b"x" * 65536
    yield b'"}]}'


def _deep(n: int) -> bytes:
    return b'{"model": "demo", "messages": ' + b"[" * n + b"]" * n + b"}"


# (name, request kwargs, expected status per path or None for "any 4xx", words in the message)
ABUSE: list[tuple[str, dict[str, Any], str]] = [
    ("empty body", {"data": b""}, "JSON"),
    ("not UTF-8", {"data": b'{"model": "\xff\xfe", "messages": []}'}, "JSON"),
    (
        "Infinity max_tokens (1e400)",
        {
            "data": b'{"model":"demo","messages":[{"role":"user","content":"x"}],'
            b'"max_tokens":1e400,"model_parameters":{"max_tokens":1e400}}'
        },
        "max_tokens",
    ),
    ("null body", {"data": b"null"}, "object"),
    (
        "messages is an object",
        {"json": {"model": "demo", "messages": {"role": "user"}}},
        "messages",
    ),
    ("model is a list", {"json": {"model": ["demo"], "messages": MSGS}}, "model"),
    (
        "role is a number",
        {"json": {"model": "demo", "messages": [{"role": 1, "content": "x"}]}},
        "role",
    ),
    ("10 MiB with Content-Length", {"data": b"x" * TEN_MIB}, "too large"),
    ("10 MiB chunked (no Content-Length)", {"data": "GEN"}, "too large"),
]


def _abuse(server: Server, path: str, kwargs: dict[str, Any], words: str) -> int:
    kwargs = dict(kwargs)
    if kwargs.get("data") == "GEN":
        kwargs["data"] = _ten_mib_chunks()
    response = _post(server, path, headers={"content-type": "application/json"}, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    message = _message(path, response)
    assert message, "a 4xx without a message"
    assert words.lower() in message.lower(), message
    return response.status_code


def test_abuse_while_a_stream_runs(live_server: Server) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", max_retries=0, timeout=(5, 10))
    expected = client.complete(MSGS, model="demo").content
    box: dict[str, Any] = {}

    def stream_it() -> None:
        with client.stream(MSGS, model="demo?tps=50") as s:
            box["deltas"] = [c.delta for c in s]
        box["reply"] = s.reply

    reader = threading.Thread(target=stream_it, daemon=True)
    reader.start()
    time.sleep(0.1)
    statuses: dict[str, int] = {}
    for path in PATHS:
        for name, kwargs, words in ABUSE:
            statuses[f"{name} {path}"] = _abuse(live_server, path, kwargs, words)
            _alive(live_server)
    # unknown paths and methods, and a raw-socket garbage request line
    assert requests.get(live_server.url + "/../../etc/passwd", timeout=5).status_code == 404
    assert requests.delete(live_server.url + EGP, timeout=5).status_code == 405
    with socket.create_connection((live_server.host, live_server.port), timeout=5) as sock:
        sock.sendall(b"\x00\x01garbage\r\n\r\n")
        answer = sock.recv(1024)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4")
    assert reader.is_alive(), "the stream finished before the abuse did: nothing overlapped"
    reader.join(30)
    reply = box["reply"]
    assert reply.status == "complete" and reply.content == expected
    assert "".join(box["deltas"]) == expected
    _alive(live_server)
    assert statuses["10 MiB with Content-Length " + EGP] == 413
    assert statuses["10 MiB chunked (no Content-Length) " + OPENAI] == 413


@pytest.mark.parametrize("path", PATHS)
def test_deeply_nested_json_is_a_client_error(live_server: Server, path: str) -> None:
    """200 KB of ``[[[...]]]`` makes json.loads raise RecursionError: still the client's fault."""
    response = _post(
        live_server, path, data=_deep(100_000), headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422), (response.status_code, response.text[:200])
    assert "JSON" in _message(path, response)
    _alive(live_server)


@pytest.mark.parametrize("api", ["egp", "openai"])
def test_huge_max_tokens_gives_a_normal_finite_stream(live_server: Server, api: str) -> None:
    base = live_server.url + ("/egp/v1" if api == "egp" else "/v1")
    client = nbchat.Client(base_url=base, api=api, max_retries=0)
    normal = client.complete(MSGS, model="demo")
    with client.stream(MSGS, model="demo", max_tokens=10**9) as s:
        text = "".join(c.delta for c in s)
    assert s.reply is not None and s.reply.status == "complete"
    assert text == normal.content and s.reply.finish_reason == "stop"


def test_binds_loopback_by_default() -> None:
    with serve(tokens_per_second=0) as server:
        assert server.host == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")


@pytest.fixture(scope="module")
def keyed() -> Iterator[Server]:
    with serve(api_key="hardening-key", tokens_per_second=0) as server:
        yield server


@pytest.mark.parametrize("api", ["egp", "openai"])
def test_streaming_requests_need_the_key(keyed: Server, api: str) -> None:
    base = keyed.url + ("/egp/v1" if api == "egp" else "/v1")
    make: Callable[[str | None], nbchat.Client] = lambda key: nbchat.Client(  # noqa: E731
        base_url=base, api=api, api_key=key, max_retries=0
    )
    for key in (None, "hardening-kez"):
        stream = make(key).stream(MSGS, model="demo")
        with pytest.raises(nbchat.AuthenticationError) as info, stream:
            list(stream)
        assert info.value.status == 401 and "API key" in info.value.message
    with make("hardening-key").stream(MSGS, model="echo") as s:
        assert "".join(c.delta for c in s) == MSGS[0]["content"]
    assert s.reply is not None and s.reply.status == "complete"
