"""Replay cassettes are validated on load, and replay errors are clear and typed
(issue 10 item 10; issue 11 item 2: the replay server lists the cassette's models)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import requests

import nbchat
from nbchat.recording import load_cassette
from nbchat.server import serve
from nbchat.server.app import MAX_BODY_BYTES

from .conftest import EGP, OPENAI, post

MSGS = [{"role": "user", "content": "What is a token?"}]


def exchange(
    model: str = "gpt-4o", path: str = OPENAI, api: str = "openai", **request: Any
) -> dict[str, Any]:
    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "recorded"},
                          "finish_reason": "stop"}]}  # fmt: skip
    return {
        "api": api,
        "path": path,
        "request": {"model": model, "messages": MSGS, **request},
        "status": 200,
        "content_type": "application/json",
        "response_t": 0.001,
        "body": [[0.002, base64.b64encode(json.dumps(reply).encode()).decode()]],
        "reply": None,
    }


def doc(*exchanges: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "exchanges": list(exchanges)}


# ------------------------------------------------------------------ validation on load

BROKEN: list[tuple[str, Any, str]] = [
    ("status", None, "no status"),
    ("status", "200", "status '200'"),
    ("status", 42, "status 42"),
    ("path", "v1/chat/completions", "path 'v1/chat/completions'"),
    ("path", None, "path None"),
    ("api", "anthropic", "api 'anthropic'"),
    ("request", [], "no request object"),
    ("response_t", "soon", "non-numeric response_t"),
    ("response_t", float("nan"), "response_t nan"),
    ("body", [["0.1", "eyJ9"]], "non-numeric time in body[0]"),
    ("body", [[-1, "eyJ9"]], "time in body[0] -1"),
    ("body", [[0.1]], "body[0]"),
    ("body", [[0.1, "not base64!"]], "not base64"),
    ("body", "eyJ9", "not a list"),
    ("content_type", 5, "content_type 5"),
    ("interrupted", True, "interrupted True"),
    ("reply", "ok", "reply that is not an object"),
]


@pytest.mark.parametrize(("field", "value", "words"), BROKEN)
def test_a_broken_exchange_is_named(field: str, value: Any, words: str) -> None:
    bad = exchange()
    if field == "status" and value is None:
        del bad["status"]
    else:
        bad[field] = value
    cassette = doc(exchange(), bad)
    with pytest.raises(nbchat.ConfigError) as info:
        load_cassette(cassette)
    message = str(info.value)
    assert "exchange 2 (exchanges[1])" in message and words in message
    with pytest.raises(nbchat.ConfigError, match=r"exchanges\[1\]"):
        serve(replay=cassette)


def test_a_missing_messages_list_and_non_object_exchange() -> None:
    no_messages = exchange()
    del no_messages["request"]["messages"]
    with pytest.raises(nbchat.ConfigError, match=r"exchange 1 .* messages"):
        load_cassette(doc(no_messages))
    with pytest.raises(nbchat.ConfigError, match=r"exchange 1 .* is a list"):
        load_cassette(doc([]))  # type: ignore[arg-type]


def test_a_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "torn.json"
    path.write_text('{"version": 1, "exchanges": [', "utf-8")
    with pytest.raises(nbchat.ConfigError, match=r"torn\.json.*not valid JSON"):
        load_cassette(path)


def test_a_valid_cassette_loads_unchanged() -> None:
    cassette = doc(exchange(), exchange(api="egp", path=EGP, model="demo"))
    assert load_cassette(copy.deepcopy(cassette)) == cassette


@pytest.mark.parametrize("speed", [float("nan"), float("inf"), -1.0, "fast"])
def test_bad_speed_is_rejected(speed: Any) -> None:
    with pytest.raises(nbchat.ConfigError, match="speed"):
        serve(replay=doc(exchange()), speed=speed)


def test_speed_zero_still_means_no_delay() -> None:
    with serve(replay=doc(exchange()), speed=0) as running:
        assert post(running, OPENAI, {"model": "gpt-4o", "messages": MSGS}).status_code == 200


# ------------------------------------------------------------------ matching


@pytest.fixture
def replay() -> Any:
    with serve(replay=doc(exchange(temperature=0.2), exchange(model="gpt-4o-mini")), speed=0) as s:
        yield s


def mismatch(response: requests.Response) -> str:
    assert response.status_code == 409
    assert response.headers["x-should-retry"] == "false"
    error = response.json()["error"]
    assert error["type"] == error["code"] == "replay_mismatch"
    return str(error["message"])


def test_model_must_match(replay: Any) -> None:
    response = post(replay, OPENAI, {"model": "gpt-4", "messages": MSGS, "temperature": 0.2})
    message = mismatch(response)
    assert "Replay mismatch: request 1" in message
    assert "expected model 'gpt-4o', got 'gpt-4'" in message


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"temperature": 0.9}, "parameter 'temperature' differs: expected '0.2', got '0.9'"),
        ({}, "parameter 'temperature' was recorded as '0.2' but not sent"),
        ({"temperature": 0.2, "max_tokens": 5}, "parameter 'max_tokens' was sent as '5'"),
    ],
)
def test_parameters_must_match(replay: Any, params: dict[str, Any], words: str) -> None:
    response = post(replay, OPENAI, {"model": "gpt-4o", "messages": MSGS, **params})
    assert words in mismatch(response)
    # the cassette did not advance: the recorded request still replays
    ok = post(replay, OPENAI, {"model": "gpt-4o", "messages": MSGS, "temperature": 0.2})
    assert ok.status_code == 200


def test_message_fields_beyond_role_and_content_must_match() -> None:
    tool_msgs = [{"role": "assistant", "content": None, "tool_calls": [{"id": "a"}]}]
    recorded = exchange()
    recorded["request"]["messages"] = tool_msgs
    with serve(replay=doc(recorded), speed=0) as running:
        sent = [{"role": "assistant", "content": None, "tool_calls": [{"id": "b"}]}]
        response = post(running, OPENAI, {"model": "gpt-4o", "messages": sent})
        assert "message 1 differs in 'tool_calls'" in mismatch(response)


def test_egp_errors_carry_the_type_too() -> None:
    with serve(replay=doc(exchange(api="egp", path=EGP, model="demo")), speed=0) as running:
        wrong = post(running, EGP, {"model": "other", "messages": MSGS})
        assert wrong.status_code == 409 and wrong.json()["type"] == "replay_mismatch"
        assert "expected model 'demo'" in wrong.json()["detail"]
        assert post(running, EGP, {"model": "demo", "messages": MSGS}).status_code == 200
        done = post(running, EGP, {"model": "demo", "messages": MSGS})
        assert done.status_code == 410 and done.json()["type"] == "replay_exhausted"
        assert done.headers["x-should-retry"] == "false"
        assert "bad request" not in done.json()["detail"].lower()


def test_the_client_does_not_retry_a_mismatch(replay: Any) -> None:
    client = nbchat.Client(base_url=replay.url + "/v1", api="openai", max_retries=3)
    with pytest.raises(nbchat.APIError) as info:
        client.complete(MSGS, "gpt-4")
    assert info.value.status == 409 and "expected model 'gpt-4o'" in info.value.message
    assert len(replay.requests) == 1


def test_request_bodies_are_capped(replay: Any) -> None:
    big = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * MAX_BODY_BYTES}]}
    response = post(replay, OPENAI, big)
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in response.json()["error"]["message"]


# ------------------------------------------------------------------ listing


def test_replay_lists_the_cassette_models(replay: Any) -> None:
    listing = requests.get(replay.url + "/v1/models", timeout=5).json()
    assert [m["id"] for m in listing["data"]] == ["gpt-4o", "gpt-4o-mini"]
    egp = requests.get(replay.url + "/egp/v1/models", timeout=5).json()
    assert [m["name"] for m in egp["items"]] == ["gpt-4o", "gpt-4o-mini"]
    assert requests.get(replay.url + "/", timeout=5).json()["models"] == ["gpt-4o", "gpt-4o-mini"]
