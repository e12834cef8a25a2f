"""reply.raw (issue 15): what went over the wire, key redacted, events capped; copy as curl."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

import nbchat
from nbchat.data import prices
from nbchat.raw import EVENT_DATA_CAP, EVENTS_HEAD, EVENTS_TAIL, EventLog

CANARY = "sk-canary-raw-5e1f09"


@pytest.fixture(autouse=True)
def _priced() -> Any:
    """The demo server's models have no price: set one so no test here warns."""
    prices.reset()
    for m in ("demo", "bench", "echo"):
        nbchat.set_price(m, input=1.0, output=1.0)
    yield
    prices.reset()


@pytest.mark.parametrize("api", ["egp", "openai"])
@pytest.mark.parametrize("stream", [True, False])
def test_the_key_never_reaches_the_raw_record(live_server: Any, api: str, stream: bool) -> None:
    base = live_server.url + ("/egp/v1" if api == "egp" else "/v1")
    client = nbchat.Client(base_url=base, api=api, api_key=CANARY)
    msgs = [{"role": "user", "content": "hello"}]
    if stream:
        with client.stream(msgs, "demo") as s:
            for _ in s:
                pass
        reply = s.reply
    else:
        reply = client.complete(msgs, "demo")
    assert reply is not None and reply.raw is not None
    raw = reply.raw
    text = json.dumps(raw.to_dict()) + raw.to_text() + raw.curl() + repr(raw) + repr(reply)
    assert CANARY not in text
    attempt = raw.attempts[0]
    auth = "x-api-key" if api == "egp" else "authorization"
    assert attempt.headers[auth] == "***"
    assert attempt.status == 200 and attempt.method == "POST"
    assert attempt.url == client.url and attempt.body["messages"] == msgs
    env = "$SPELLBOOK_API_KEY" if api == "egp" else "$OPENAI_API_KEY"
    assert env in raw.curl()
    assert raw.event_count >= 1 and raw.bytes > 0
    assert "raw" not in reply.to_dict()  # kernel only: never in the dict form
    if not stream:
        assert [e.event for e in raw.events] == ["json"]  # a sync reply: the body, once


def test_copy_as_curl_runs_in_a_shell_with_the_key_from_the_environment(live_server: Any) -> None:
    """The command is valid shell: split it and check each piece; the key is the variable."""
    client = nbchat.Client(base_url=live_server.url + "/v1", api="openai", api_key=CANARY)
    text = 'it\'s a "quoted" $HOME `tick` message'
    reply = client.complete([{"role": "user", "content": text}], "echo")
    assert reply.raw is not None
    argv = shlex.split(reply.raw.curl().replace("\\\n", " "))
    assert argv[:3] == ["curl", "-N", client.url]
    assert "authorization: Bearer $OPENAI_API_KEY" in argv  # expanded by the shell, not us
    body = json.loads(argv[argv.index("--data-raw") + 1])
    assert body["messages"][0]["content"] == text  # quotes and $ survive the single quotes
    assert CANARY not in reply.raw.curl()


def test_events_are_capped_first_and_last(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/v1", api="openai")
    with client.stream([{"role": "user", "content": "go"}], "bench?chunks=400&tps=0") as s:
        for _ in s:
            pass
    raw = s.reply.raw if s.reply else None
    assert raw is not None
    # role chunk + 400 pieces + finish + usage + [DONE]: more than the cap
    assert raw.event_count > EVENTS_HEAD + EVENTS_TAIL
    assert len(raw.events) == EVENTS_HEAD + EVENTS_TAIL
    assert raw.omitted == raw.event_count - EVENTS_HEAD - EVENTS_TAIL
    assert raw.events[-1].data == "[DONE]"  # the last ones are the last the server sent
    times = [e.t for e in raw.events]
    assert times == sorted(times) and times[0] >= 0
    assert f"{raw.omitted:,} events not kept" in raw.to_text()
    assert raw.to_dict()["omitted"] == raw.omitted


def test_one_event_is_capped_too() -> None:
    log = EventLog()
    log.add(0.0, "message", "x" * (EVENT_DATA_CAP + 10))
    (event,) = log.events()
    assert event.data.startswith("x" * EVENT_DATA_CAP) and "10 more characters" in event.data


def test_attempts_record_retries_and_the_re_sent_history(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/v1", api="openai", max_retries=1)
    reply = client.complete([{"role": "user", "content": "hi"}], "demo?fault=500&times=1")
    assert reply.raw is not None
    assert [a.status for a in reply.raw.attempts] == [500, 200]
    assert reply.raw.attempts[1].sent >= reply.raw.attempts[0].sent
    second = client.complete(
        [
            {"role": "user", "content": "hi"},
            reply.to_message(),
            {"role": "user", "content": "and again"},
        ],
        "demo",
    )
    assert second.raw is not None and len(second.raw.attempts[0].body["messages"]) == 3
    assert second.request_bytes and reply.request_bytes
    assert second.request_bytes > reply.request_bytes


def test_a_secret_in_extra_headers_is_masked(live_server: Any) -> None:
    client = nbchat.Client(
        base_url=live_server.url + "/v1",
        api="openai",
        headers={"Proxy-Authorization": "Basic " + CANARY, "X-Trace": "visible"},
    )
    reply = client.complete([{"role": "user", "content": "hi"}], "demo")
    assert reply.raw is not None
    headers = reply.raw.attempts[0].headers
    assert headers["Proxy-Authorization"] == "***" and headers["X-Trace"] == "visible"
    assert CANARY not in json.dumps(reply.raw.to_dict())


def test_no_key_no_auth_header_in_curl(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/egp/v1", api="egp")
    reply = client.complete([{"role": "user", "content": "hi"}], "demo")
    assert reply.raw is not None and reply.raw.auth is None
    assert "x-api-key" not in reply.raw.attempts[0].headers
    assert "$SPELLBOOK_API_KEY" not in reply.raw.curl() and "***" not in reply.raw.curl()


def test_redact_headers_masks_every_credential_header() -> None:
    from nbchat.raw import redact_headers

    shown = redact_headers(
        {
            "Authorization": "Bearer x",
            "API-Key": "x",
            "Cookie": "a=b",
            "X-Mine": "x",
            "Accept": "y",
        },
        also="x-mine",
    )
    assert shown == {
        "Authorization": "***",
        "API-Key": "***",
        "Cookie": "***",
        "X-Mine": "***",
        "Accept": "y",
    }
