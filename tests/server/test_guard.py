"""What a web page in the same browser (or any stray client) can no longer make the server do.

Issue 10 items 2, 5, 6 and 8 (the warning), issue 12 (``rpm``): each test fails on the server
before `nbchat.server.guard` existed.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests

import nbchat
from nbchat.server import Server, serve
from nbchat.server.app import messages_digest

from .conftest import EGP, OPENAI, USER_TOKEN, post

BODY = {"model": "echo", "messages": [{"role": "user", "content": "hello"}]}


def cassette(n: int = 1) -> dict[str, Any]:
    """A hand-written cassette of `n` identical EGP sync exchanges answering "recorded"."""
    answer = {"chat_completion": {"message": {"role": "agent", "content": "recorded"}}}
    piece = base64.b64encode(json.dumps(answer).encode()).decode()
    exchange = {
        "api": "egp",
        "path": EGP,
        "request": {"model": "m", "messages": USER_TOKEN},
        "status": 200,
        "content_type": "application/json",
        "response_t": 0.0,
        "body": [[0.0, piece]],
        "reply": None,
    }
    return {"version": 1, "exchanges": [dict(exchange) for _ in range(n)]}


def message_of(response: requests.Response) -> str:
    data = response.json()
    return str(data["detail"] if "detail" in data else data["error"]["message"])


# ------------------------------------------------------------------ item 2: replay key


@pytest.fixture
def keyed_replay() -> Iterator[Server]:
    with serve(replay=cassette(3), speed=0, api_key="replay-key") as running:
        yield running


def test_replay_enforces_the_api_key(keyed_replay: Server) -> None:
    body = {"model": "m", "messages": USER_TOKEN}
    missing = post(keyed_replay, EGP, body)
    assert missing.status_code == 401 and "x-api-key" in message_of(missing)
    wrong = post(keyed_replay, EGP, body, headers={"x-api-key": "nope"})
    assert wrong.status_code == 401
    assert keyed_replay.requests == []  # the cassette did not advance
    ok = post(keyed_replay, EGP, body, headers={"x-api-key": "replay-key"})
    assert ok.status_code == 200
    assert ok.json()["chat_completion"]["message"]["content"] == "recorded"
    assert requests.get(keyed_replay.url + "/v1/models", timeout=5).status_code == 401


# ------------------------------------------------------------------ item 5: content type


@pytest.mark.parametrize("path", [EGP, OPENAI])
@pytest.mark.parametrize(
    "ctype", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", None]
)
def test_only_json_bodies_reach_the_model(server: Server, path: str, ctype: str | None) -> None:
    before = len(server.requests)
    headers = {} if ctype is None else {"content-type": ctype}
    response = requests.post(
        server.url + path, data=json.dumps(BODY).encode(), headers=headers, timeout=10
    )
    assert response.status_code == 415
    assert "application/json" in message_of(response)
    assert response.headers["x-should-retry"] == "false"
    assert len(server.requests) == before  # never served


def test_json_with_a_charset_is_fine(server: Server) -> None:
    response = requests.post(
        server.url + EGP,
        data=json.dumps(BODY).encode(),
        headers={"content-type": "Application/JSON; charset=utf-8"},
        timeout=10,
    )
    assert response.status_code == 200


# ------------------------------------------------------------------ item 6: Host header


@pytest.mark.parametrize(
    "host", ["evil.test", "evil.test:{port}", "127.0.0.1.evil.test", "localhost.evil.test:{port}"]
)
@pytest.mark.parametrize("path", ["/", "/v1/models", EGP, OPENAI])
def test_foreign_host_header_is_refused(server: Server, host: str, path: str) -> None:
    before = len(server.requests)
    headers = {"Host": host.format(port=server.port)}
    if path in (EGP, OPENAI):
        response = requests.post(server.url + path, json=BODY, headers=headers, timeout=10)
    else:
        response = requests.get(server.url + path, headers=headers, timeout=10)
    assert response.status_code == 421
    assert "does not answer to Host" in message_of(response)
    assert "hello" not in response.text
    assert len(server.requests) == before


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}"]
)
def test_loopback_names_are_answered(server: Server, host: str) -> None:
    headers = {"Host": host.format(port=server.port)}
    response = requests.post(server.url + EGP, json=BODY, headers=headers, timeout=10)
    assert response.status_code == 200


def test_allowed_hosts_extends_the_list() -> None:
    with serve(tokens_per_second=0, allowed_hosts=["proxy.internal"]) as running:
        ok = post(running, EGP, BODY, headers={"Host": "proxy.internal:443"})
        assert ok.status_code == 200
        assert post(running, EGP, BODY, headers={"Host": "other.internal"}).status_code == 421


def test_clients_still_work_against_127_0_0_1(server: Server) -> None:
    """nbchat's Client and the official openai package send Host 127.0.0.1:port."""
    reply = nbchat.Client(base_url=server.url + "/egp/v1").complete(
        [{"role": "user", "content": "hi"}], "echo"
    )
    assert reply.content == "hi"
    sdk = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    done = sdk.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "hi there"}]
    )
    assert done.choices[0].message.content == "hi there"
    assert [m.id for m in sdk.models.list()] == ["demo", "echo", "bench"]


def test_wildcard_bind_answers_ip_literals_only() -> None:
    with (
        warnings.catch_warnings(),
        serve(host="0.0.0.0", api_key="k", tokens_per_second=0) as running,
    ):
        url = f"http://127.0.0.1:{running.port}"
        key = {"x-api-key": "k"}
        for host, status in [("10.1.2.3:9", 200), ("evil.test", 421), ("localhost", 200)]:
            r = requests.post(url + EGP, json=BODY, headers={**key, "Host": host}, timeout=10)
            assert r.status_code == status, host


# ------------------------------------------------------------------ item 8: warning


def test_non_loopback_bind_without_key_warns() -> None:
    with pytest.warns(UserWarning, match="without an API key"), serve(host="0.0.0.0") as running:
        assert running.running


def test_loopback_or_keyed_bind_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with serve(host="127.0.0.1"), serve(host="0.0.0.0", api_key="k"):
            pass


# ------------------------------------------------------------------ issue 12: rpm and stats


def test_rpm_limit_answers_429_with_retry_after() -> None:
    with serve(tokens_per_second=0, rpm=3) as running:
        statuses = [post(running, path, BODY).status_code for path in (EGP, OPENAI, EGP)]
        assert statuses == [200, 200, 200]
        for path in (EGP, OPENAI):
            limited = post(running, path, BODY)
            assert limited.status_code == 429
            assert 1 <= int(limited.headers["retry-after"]) <= 60
            assert limited.headers["x-ratelimit-limit-requests"] == "3"
            assert "3 requests per minute" in message_of(limited)
        # GETs are not chat requests and are not limited
        assert requests.get(running.url + "/v1/models", timeout=5).status_code == 200
        assert post(running, EGP, BODY, headers={"Host": "evil.test"}).status_code == 421
        stats = running.stats()
        assert stats["requests"] == 3 and stats["rate_limited"] == 2
        assert stats["refused"] == {"429": 2, "421": 1}
        assert requests.get(running.url + "/stats", timeout=5).json() == stats


def test_rpm_429_is_retried_by_the_openai_package_only_after_retry_after() -> None:
    with serve(tokens_per_second=0, rpm=1) as running:
        sdk = openai.OpenAI(base_url=running.url + "/v1", api_key="x", max_retries=0)
        sdk.chat.completions.create(model="echo", messages=[{"role": "user", "content": "a"}])
        with pytest.raises(openai.RateLimitError) as info:
            sdk.chat.completions.create(model="echo", messages=[{"role": "user", "content": "b"}])
        assert info.value.response.headers["retry-after"]


def test_stats_count_models_and_repeated_conversations() -> None:
    with serve(tokens_per_second=0) as running:
        rows = [[{"role": "user", "content": f"row {i}"}] for i in range(5)]
        for messages in rows:
            post(running, EGP, {"model": "echo", "messages": messages})
        post(running, EGP, {"model": "echo?fault=500", "messages": rows[0]})  # a failed try
        assert running.stats()["repeated"] == {}
        post(running, EGP, {"model": "echo", "messages": rows[1]})  # served twice
        stats = running.stats()
        assert stats["by_model"] == {"echo": 6, "echo?fault=500": 1}
        assert stats["faults"] == {"500": 1}
        assert stats["repeated"] == {messages_digest(rows[1]): 2}
        assert running.requests[0]["digest"] == messages_digest(rows[0])


def test_rpm_must_be_a_positive_integer() -> None:
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="rpm"):
            serve(rpm=bad)  # type: ignore[arg-type]
