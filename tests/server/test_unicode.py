"""Text that cannot be encoded (a lone surrogate) is the client's error, never a 500
(issue 10 item 9)."""

from __future__ import annotations

import logging

import pytest

import nbchat
from nbchat.server import Server, serve

from .conftest import EGP, OPENAI, post

LONE = b'"\\ud800"'  # JSON escape that decodes to a lone surrogate


def raw(model: bytes = b'"demo"', content: bytes = LONE, extra: bytes = b"") -> bytes:
    return (
        b'{"model": ' + model + b', "messages": [{"role": "user", "content": ' + content + b"}]"
        + extra + b"}"
    )  # fmt: skip


CASES = {
    "content": (raw(), ["body", "messages", 0, "content"], "messages[0].content"),
    "model": (raw(model=LONE, content=b'"hi"'), ["body", "model"], "model"),
    "stop": (raw(content=b'"hi"', extra=b', "stop": [' + LONE + b"]"), None, "stop[0]"),
    "low surrogate in a key": (raw(content=b'"hi"', extra=b', "x\\udfff": 1'), ["body"], None),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("stream", [False, True])
def test_lone_surrogate_is_a_4xx_with_a_clear_message(
    server: Server, case: str, stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    body, egp_loc, param = CASES[case]
    if stream:
        body = body[:-1] + b', "stream": true}'
    with caplog.at_level(logging.ERROR):
        egp = post(server, EGP, body)
        openai = post(server, OPENAI, body)
    assert egp.status_code == 422 and openai.status_code == 400
    detail = egp.json()["detail"][0]
    assert "lone surrogate" in detail["msg"] and "UTF-8" in detail["msg"]
    if egp_loc is not None:
        assert detail["loc"] == egp_loc
    error = openai.json()["error"]
    assert "lone surrogate" in error["message"]
    if param is not None:
        assert error["param"] == param
    assert not [r for r in caplog.records if r.exc_info], "no traceback logged"


def test_replay_server_answers_400_too() -> None:
    doc = {"version": 1, "exchanges": []}
    with serve(replay=doc, speed=0) as running:
        response = post(running, EGP, raw())
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["detail"]


def test_the_client_gets_one_4xx_and_does_not_retry(server: Server) -> None:
    """The deterministic error reaches nbchat's client as a 4xx: it is not retried."""
    import requests

    session = requests.Session()
    response = session.post(
        server.url + OPENAI,
        data=raw(),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    client = nbchat.Client(base_url=server.url + "/v1", api="openai", max_retries=3)
    before = len(server.requests)
    with pytest.raises((nbchat.APIError, nbchat.ConfigError)):
        client.complete([{"role": "user", "content": "\ud800"}], "demo")
    assert len(server.requests) - before <= 1  # a 4xx is not retried (or never sent)
