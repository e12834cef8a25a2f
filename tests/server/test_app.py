"""The embedded server over real HTTP on 127.0.0.1: both APIs, validation, auth, faults."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests
from openai.types.chat import ChatCompletionMessageParam

from nbchat.server import Server, ServerThread, serve
from nbchat.server.app import messages_digest
from nbchat.server.demo_model import generate

from .conftest import (
    EGP,
    OPENAI,
    USER_TOKEN,
    egp_stream_text,
    openai_stream_text,
    post,
    sse_payloads,
)

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is a token?"}]
SEED_HEADERS = {
    "x-api-key": "anything",
    "accept": "application/json",
    "content-type": "application/json",
}


def body(model: str = "demo", stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": USER_TOKEN, "stream": stream, **extra}


# ------------------------------------------------------------------ seed snippets


def test_seed_sync_snippet(server: Server) -> None:
    response = requests.post(
        server.url + EGP,
        json={
            "model": "gpt-3.5-turbo-0613",
            "messages": [{"role": "user", "content": "What is a token?"}],
        },
        headers=SEED_HEADERS,
    )
    data = response.json()
    assert response.status_code == 200
    assert set(data) == {"chat_completion", "token_usage"}
    message = data["chat_completion"]["message"]
    assert message == {"role": "agent", "content": message["content"], "tool_request": None}
    assert "token" in message["content"]
    usage = data["token_usage"]
    assert usage["total"] == usage["prompt"] + usage["completion"]
    assert data["chat_completion"]["finish_reason"] == "stop"


def test_seed_stream_snippet_matches_sync(server: Server) -> None:
    payload = {
        "model": "gpt-3.5-turbo-0613",
        "messages": [{"role": "user", "content": "What is a token?"}],
    }
    sync = requests.post(server.url + EGP, json=payload, headers=SEED_HEADERS).json()
    response = requests.post(
        server.url + EGP, json={**payload, "stream": True}, headers=SEED_HEADERS, stream=True
    )
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["transfer-encoding"] == "chunked"
    text, events = "", []
    for line in response.iter_lines():
        if line:
            event = json.loads(line[len("data: ") :])
            events.append(event)
            text += event["chat_completion"]["message"]["content"]
    assert text == sync["chat_completion"]["message"]["content"]
    assert len(events) == sync["token_usage"]["completion"]
    assert all(e["token_usage"] is None for e in events[:-1])
    assert all(e["chat_completion"]["finish_reason"] is None for e in events[:-1])
    assert events[-1]["token_usage"] == sync["token_usage"]
    assert events[-1]["chat_completion"]["finish_reason"] == "stop"
    assert events[0]["chat_completion"]["message"]["role"] == "agent"


# ------------------------------------------------------------------ OpenAI


def test_openai_sync_shape(server: Server) -> None:
    data = post(server, OPENAI, body()).json()
    assert data["object"] == "chat.completion" and data["model"] == "demo"
    choice = data["choices"][0]
    expected = generate(USER_TOKEN)
    assert choice["message"] == {"role": "assistant", "content": expected.text, "refusal": None}
    assert choice["finish_reason"] == "stop"
    assert data["usage"] == {
        "prompt_tokens": expected.prompt_tokens,
        "completion_tokens": expected.completion_tokens,
        "total_tokens": expected.total_tokens,
    }


@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_stream_shape(server: Server, include_usage: bool) -> None:
    options = {"stream_options": {"include_usage": include_usage}}
    response = post(server, OPENAI, body("demo", True, **options))
    text, chunks = openai_stream_text(response)
    assert text == generate(USER_TOKEN).text
    assert chunks[-1] == "[DONE]"
    first = chunks[0]
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert first["object"] == "chat.completion.chunk"
    finish_at = -3 if include_usage else -2
    assert chunks[finish_at]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    if include_usage:
        assert chunks[-2]["choices"] == []
        assert chunks[-2]["usage"]["completion_tokens"] == len(chunks) - 4
        others = chunks[:-2]
    else:
        others = chunks[:-1]
    assert all(c["usage"] is None for c in others)
    assert len({c["id"] for c in chunks[:-1]}) == 1


def test_official_openai_client(server: Server) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    expected = generate(USER_TOKEN)
    completion = client.chat.completions.create(model="demo", messages=MESSAGES)
    assert completion.choices[0].message.content == expected.text
    assert completion.usage is not None
    assert completion.usage.total_tokens == expected.total_tokens
    stream = client.chat.completions.create(
        model="demo",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        usage = chunk.usage or usage
    assert text == expected.text
    assert usage is not None and usage.completion_tokens == expected.completion_tokens


def test_official_openai_client_sees_errors(server: Server) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-x?fault=404", messages=MESSAGES)
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.APIError, match="overloaded"):
        stream = client.chat.completions.create(
            model="demo?fault=error-event",
            messages=MESSAGES,
            stream=True,
        )
        list(stream)


# ------------------------------------------------------------------ demo behaviour


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_deterministic(server: Server, path: str) -> None:
    first, second = post(server, path, body()).json(), post(server, path, body()).json()
    for data in (first, second):
        data.pop("id", None)
        data.pop("created", None)
    assert first == second


def test_max_tokens_gives_length(server: Server) -> None:
    egp = post(server, EGP, body(model_parameters={"max_tokens": 4})).json()
    assert egp["chat_completion"]["finish_reason"] == "length"
    assert egp["token_usage"]["completion"] == 4
    text, events = egp_stream_text(
        post(server, EGP, body(stream=True, model_parameters={"max_tokens": 4}))
    )
    assert len(events) == 4 and events[-1]["chat_completion"]["finish_reason"] == "length"
    assert text == egp["chat_completion"]["message"]["content"]
    oai = post(server, OPENAI, body(max_completion_tokens=3)).json()
    assert oai["choices"][0]["finish_reason"] == "length"
    assert oai["usage"]["completion_tokens"] == 3
    huge = post(server, OPENAI, body(max_tokens=10**12)).json()
    assert huge["choices"][0]["finish_reason"] == "stop"


def test_stop_sequences(server: Server) -> None:
    full = generate(USER_TOKEN).text
    cut = full[: full.index("token")]
    egp = post(server, EGP, body(model_parameters={"stop_sequences": ["token"]})).json()
    assert egp["chat_completion"]["message"]["content"] == cut
    assert egp["chat_completion"]["finish_reason"] == "stop"
    for stop in ("token", ["zzz", "token"]):
        oai = post(server, OPENAI, body(stop=stop)).json()
        assert oai["choices"][0]["message"]["content"] == cut


def test_prompt_tokens_grow_with_history(server: Server) -> None:
    messages: list[dict[str, Any]] = []
    prompts = []
    for question in ("Hello", "What is a token?", "And streaming?"):
        messages.append({"role": "user", "content": question})
        data = post(server, EGP, {"model": "demo", "messages": messages}).json()
        prompts.append(data["token_usage"]["prompt"])
        reply = data["chat_completion"]["message"]["content"]
        messages.append({"role": "assistant", "content": reply})
    assert prompts[0] < prompts[1] < prompts[2]
    assert "Turn 3" in reply and "Earlier you asked about tokens" in reply


def test_instructions_act_as_system_prompt(server: Server) -> None:
    data = post(server, EGP, body(instructions="Be terse.")).json()
    assert "\n" not in data["chat_completion"]["message"]["content"]


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_echo_is_verbatim(server: Server, path: str) -> None:
    payload = "<script>alert('x&y')</script>\n<b>bold</b> — héllo 🌍 \u2028 end"
    messages = [{"role": "user", "content": payload}]
    response = post(server, path, {"model": "echo", "messages": messages, "stream": True})
    if path == EGP:
        text, _ = egp_stream_text(response)
        sync = post(server, path, {"model": "echo", "messages": messages}).json()
        assert sync["chat_completion"]["message"]["content"] == payload
    else:
        text, chunks = openai_stream_text(response)
        assert chunks[0]["model"] == "echo"
    assert text == payload


def test_bench_model_and_tps_option(server: Server) -> None:
    _, events = egp_stream_text(post(server, EGP, body("bench?chunks=500&tps=0", True)))
    assert len(events) == 500
    assert {e["chat_completion"]["message"]["content"] for e in events} == {"tok "}
    started = time.monotonic()
    _, events = egp_stream_text(post(server, EGP, body("bench?chunks=10&tps=50", True)))
    assert time.monotonic() - started >= 0.15


def test_ttft_option(server: Server) -> None:
    started = time.monotonic()
    response = post(server, OPENAI, body("demo?ttft=0.3", True), stream=True)
    next(response.iter_lines())
    assert time.monotonic() - started >= 0.3


def test_index_and_models(server: Server) -> None:
    assert requests.get(server.url + "/").json()["endpoints"]["egp"] == EGP
    models = requests.get(server.url + "/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["demo", "echo", "bench"]


def test_request_log(server: Server) -> None:
    before = len(server.requests)
    post(server, OPENAI, body("demo?fault=500"), headers={"Authorization": "Bearer sk-hidden"})
    entry = server.requests[before]
    assert entry == {
        "path": OPENAI,
        "api": "openai",
        "model": "demo?fault=500",
        "stream": False,
        "fault": "500",
        "digest": messages_digest(USER_TOKEN),
    }
    assert "sk-hidden" not in repr(server.requests)


# ------------------------------------------------------------------ routing, size, auth


def test_unknown_path_and_wrong_method(server: Server) -> None:
    missing = requests.get(server.url + "/nope")
    assert missing.status_code == 404 and "detail" in missing.json()
    assert requests.post(server.url + "/v1/nope").json()["error"]["message"]
    wrong = requests.get(server.url + EGP)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert requests.put(server.url + OPENAI).status_code == 405


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_body_over_one_mib_is_413(server: Server, path: str) -> None:
    big = {"model": "demo", "messages": [{"role": "user", "content": "x" * (1024 * 1024)}]}
    response = post(server, path, big)
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts bytes
        for _ in range(40):
            yield b" " * 65536

    assert post(server, path, chunks()).status_code == 413
    assert post(server, path, body()).status_code == 200


def test_declared_length_is_rejected_before_reading(server: Server) -> None:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(
            b"POST " + EGP.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{"
        )
        status = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status == b"HTTP/1.1 413 Request Entity Too Large"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (EGP, {"x-api-key": "s3cret-key"}),
        (OPENAI, {"Authorization": "Bearer s3cret-key"}),
        (OPENAI, {"x-api-key": "s3cret-key"}),
    ],
)
def test_auth_right_key(keyed_server: Server, path: str, headers: dict[str, str]) -> None:
    assert post(keyed_server, path, body(), headers=headers).status_code == 200


@pytest.mark.parametrize("path", [EGP, OPENAI])
@pytest.mark.parametrize(
    "headers", [{}, {"x-api-key": "wrong-key"}, {"Authorization": "Bearer s3cret-kez"}]
)
def test_auth_wrong_or_missing_key(
    keyed_server: Server, path: str, headers: dict[str, str]
) -> None:
    response = post(keyed_server, path, body(), headers=headers)
    assert response.status_code == 401
    assert "s3cret" not in response.text and "wrong-key" not in response.text
    data = response.json()
    message = data["detail"] if path == EGP else data["error"]["message"]
    assert "API key" in message
    if path == OPENAI:
        assert data["error"]["code"] == "invalid_api_key"


def test_openai_client_with_key(keyed_server: Server) -> None:
    good = openai.OpenAI(base_url=keyed_server.url + "/v1", api_key="s3cret-key")
    assert good.chat.completions.create(model="demo", messages=MESSAGES).choices
    bad = openai.OpenAI(base_url=keyed_server.url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="demo", messages=MESSAGES)


# ------------------------------------------------------------------ validation

OK_MESSAGES = [{"role": "user", "content": "hi"}]
INVALID: list[tuple[Any, list[Any], str]] = [
    # (body, EGP loc, OpenAI param)
    (b"{not json", ["body"], ""),
    (b"[1, 2]", ["body"], ""),
    ({"messages": OK_MESSAGES}, ["body", "model"], "model"),
    ({"model": 3, "messages": OK_MESSAGES}, ["body", "model"], "model"),
    ({"model": "demo"}, ["body", "messages"], "messages"),
    ({"model": "demo", "messages": []}, ["body", "messages"], "messages"),
    ({"model": "demo", "messages": "hi"}, ["body", "messages"], "messages"),
    ({"model": "demo", "messages": ["hi"]}, ["body", "messages", 0], "messages[0]"),
    (
        {"model": "demo", "messages": [{"content": "hi"}]},
        ["body", "messages", 0, "role"],
        "messages[0].role",
    ),
    (
        {"model": "demo", "messages": [{"role": "user", "content": 5}]},
        ["body", "messages", 0, "content"],
        "messages[0].content",
    ),
    ({"model": "demo", "messages": OK_MESSAGES, "stream": "yes"}, ["body", "stream"], "stream"),
    ({"model": "demo?fault=nope", "messages": OK_MESSAGES}, ["body", "model"], "model"),
    ({"model": "demo?tps=fast", "messages": OK_MESSAGES}, ["body", "model"], "model"),
]
PARAMS: list[tuple[str, Any]] = [
    ("temperature", "hot"),
    ("temperature", True),
    ("max_tokens", 0),
    ("max_tokens", 2.5),
    ("max_tokens", "10"),
]


@pytest.mark.parametrize(("payload", "loc", "param"), INVALID)
def test_validation_egp(server: Server, payload: Any, loc: list[Any], param: str) -> None:
    response = post(server, EGP, payload)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == loc and detail[0]["msg"] and detail[0]["type"]


@pytest.mark.parametrize(("payload", "loc", "param"), INVALID)
def test_validation_openai(server: Server, payload: Any, loc: list[Any], param: str) -> None:
    response = post(server, OPENAI, payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == (param or None)
    assert param in error["message"]


@pytest.mark.parametrize(("name", "value"), [*PARAMS, ("stop_sequences", "\n"), ("topK", 0.5)])
def test_validation_egp_model_parameters(server: Server, name: str, value: Any) -> None:
    response = post(server, EGP, body(model_parameters={name: value}))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "model_parameters", name]


@pytest.mark.parametrize(("name", "value"), [*PARAMS, ("stop", 5), ("stop", ["a", 1])])
def test_validation_openai_parameters(server: Server, name: str, value: Any) -> None:
    response = post(server, OPENAI, body(**{name: value}))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == name


def test_validation_reports_all_egp_errors(server: Server) -> None:
    response = post(server, EGP, {"model": 1, "messages": []})
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "model"],
        ["body", "messages"],
    ]


def test_null_content_and_extra_fields_are_accepted(server: Server) -> None:
    messages = [
        {"role": "system", "content": None},
        {"role": "user", "content": "hi", "name": "ada"},
    ]
    extra = {"temperature": 0.2, "top_p": 1, "n": 1, "user": "u"}
    assert post(server, OPENAI, {"model": "demo", "messages": messages, **extra}).ok
    params = {"temperature": 0.2, "topK": 3, "topP": 0.9, "stop_sequences": ["\n\n"]}
    assert post(server, EGP, {"model": "demo", "messages": messages, "model_parameters": params}).ok


# ------------------------------------------------------------------ status faults

STATUS_FAULTS = ["401", "403", "404", "422", "429", "500"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fault", STATUS_FAULTS)
def test_status_faults_egp(server: Server, fault: str, stream: bool) -> None:
    response = post(server, EGP, body(f"gpt-4?fault={fault}", stream))
    assert response.status_code == int(fault)
    assert response.headers["content-type"] == "application/json"
    assert "detail" in response.json()
    if fault == "422":
        assert response.json()["detail"][0]["loc"] == ["body", "messages"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fault", STATUS_FAULTS)
def test_status_faults_openai(server: Server, fault: str, stream: bool) -> None:
    response = post(server, OPENAI, body(f"gpt-4?fault={fault}", stream))
    assert response.status_code == int(fault)
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if fault == "404":
        assert error["code"] == "model_not_found" and "gpt-4" in error["message"]
        assert "fault" not in error["message"]
    if fault == "422":
        assert error["param"] == "messages"


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_429_retry_after(server: Server, path: str) -> None:
    assert post(server, path, body("demo?fault=429")).headers["retry-after"] == "1"
    response = post(server, path, body("demo?fault=429&retry_after=7"))
    assert response.headers["retry-after"] == "7"


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_502_is_html(server: Server, path: str) -> None:
    response = post(server, path, body("demo?fault=502", True))
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_fault_header(server: Server, path: str) -> None:
    response = post(server, path, body(), headers={"x-nbchat-fault": "503x"})
    assert response.status_code in (400, 422)
    response = post(server, path, body(), headers={"x-nbchat-fault": "429"})
    assert response.status_code == 429


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_times_limits_failures_per_model_string(path: str) -> None:
    with serve(tokens_per_second=0) as fresh:
        model = "demo?fault=500&times=2"
        statuses = [post(fresh, path, body(model)).status_code for _ in range(4)]
        assert statuses == [500, 500, 200, 200]
        assert post(fresh, path, body("demo?fault=500&times=1")).status_code == 500
        assert [r["fault"] for r in fresh.requests] == ["500", "500", None, None, "500"]


# ------------------------------------------------------------------ stream faults


def payloads(server: Server, path: str, model: str) -> list[str]:
    return sse_payloads(post(server, path, body(model, True), stream=True))


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_malformed(server: Server, path: str) -> None:
    data = payloads(server, path, "demo?fault=malformed&after=2")
    head = 3 if path == OPENAI else 2  # the OpenAI role chunk comes first
    with pytest.raises(json.JSONDecodeError):
        json.loads(data[head])
    for payload in data[:head] + data[head + 1 :]:
        assert payload == "[DONE]" or json.loads(payload)
    assert len(data) > head + 3


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_malformed_sync(server: Server, path: str) -> None:
    response = post(server, path, body("demo?fault=malformed"))
    assert response.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        response.json()


@pytest.mark.parametrize("path", [EGP, OPENAI])
@pytest.mark.parametrize("stream", [True, False])
def test_drop_cuts_the_chunked_body(server: Server, path: str, stream: bool) -> None:
    response = post(server, path, body("demo?fault=drop&after=3", stream), stream=True)
    assert response.status_code == 200
    received = b""
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for chunk in response.iter_content(chunk_size=None):
            received += chunk
    assert received and not received.endswith(b"\n\n")
    if stream:
        head = 1 if path == OPENAI else 0
        assert received.count(b"\n\n") == head + 3


def test_drop_raw_socket_has_no_terminating_chunk(server: Server) -> None:
    request = json.dumps(body("demo?fault=drop&after=1", True)).encode()
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(
            b"POST "
            + EGP.encode()
            + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(request)).encode() + b"\r\n\r\n" + request
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    assert b"transfer-encoding: chunked" in raw.lower()
    assert not raw.endswith(b"0\r\n\r\n")


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_stall_before_headers(server: Server, path: str) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(server.url + path, json=body("demo?fault=stall", True), timeout=(2, 0.3))
    started = time.monotonic()
    response = post(server, path, body("demo?fault=stall&stall=0.3", True))
    assert response.status_code == 200 and time.monotonic() - started >= 0.3


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_stall_mid_stream(server: Server, path: str) -> None:
    response = requests.post(
        server.url + path, json=body("demo?fault=stall-mid&after=2", True), stream=True,
        timeout=(2, 0.4),
    )  # fmt: skip
    lines = response.iter_lines()
    received = [next(lines) for _ in range(3)]
    assert received[0].startswith(b"data: ")
    with pytest.raises(requests.exceptions.ConnectionError):
        list(lines)
    started = time.monotonic()
    assert payloads(server, path, "demo?fault=stall-mid&stall=0.3")
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("path", [EGP, OPENAI])
@pytest.mark.parametrize("stream", [True, False])
def test_empty(server: Server, path: str, stream: bool) -> None:
    response = post(server, path, body("demo?fault=empty", stream))
    assert response.status_code == 200 and response.content == b""
    kind = "text/event-stream" if stream else "application/json"
    assert response.headers["content-type"].startswith(kind)


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_error_event(server: Server, path: str) -> None:
    data = payloads(server, path, "demo?fault=error-event&after=2")
    head = 3 if path == OPENAI else 2
    error = json.loads(data[head])["error"]
    assert error == {"message": "The server is overloaded, try again later", "type": "server_error"}
    assert data[head + 1 :] == (["[DONE]"] if path == OPENAI else [])


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_event_error(server: Server, path: str) -> None:
    raw = post(server, path, body("demo?fault=event-error&after=2", True)).text
    events = raw.split("\n\n")
    head = 3 if path == OPENAI else 2
    assert events[head].startswith("event: error\ndata: ")
    assert json.loads(events[head].split("data: ", 1)[1])["detail"]
    assert events[head + 1 :] == [""]


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_error_field(server: Server, path: str) -> None:
    raw = post(server, path, body("demo?fault=error-field&after=0", True)).text
    events = raw.split("\n\n")
    head = 1 if path == OPENAI else 0
    assert events[head].startswith("error: ")
    assert json.loads(events[head][len("error: ") :])["type"] == "exceed_context_size_error"
    assert events[head + 1 :] == ["data: [DONE]", ""]


@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_json_answers_a_stream_request(server: Server, path: str) -> None:
    response = post(server, path, body("demo?fault=json", True))
    assert response.headers["content-type"] == "application/json"
    sync = post(server, path, body()).json()
    data = response.json()
    for item in (data, sync):
        item.pop("id", None)
        item.pop("created", None)
    assert data == sync


def test_fault_after_beyond_the_reply(server: Server) -> None:
    data = payloads(server, EGP, "echo?fault=error-event&after=99")
    assert json.loads(data[-1])["error"]


# ------------------------------------------------------------------ concurrency


def test_concurrent_streams_and_a_bad_request(server: Server) -> None:
    expected = generate(USER_TOKEN, max_tokens=25)
    results: dict[int, tuple[str, float]] = {}

    def stream(index: int) -> None:
        started = time.monotonic()
        payload = body("demo?tps=50", True, model_parameters={"max_tokens": 25})
        text, events = egp_stream_text(post(server, EGP, payload, stream=True))
        assert events[-1]["token_usage"]["completion"] == 25
        results[index] = (text, time.monotonic() - started)

    started = time.monotonic()
    threads = [threading.Thread(target=stream, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    assert post(server, EGP, b"{broken").status_code == 422
    assert post(server, OPENAI, body("demo?fault=drop", True), stream=True).status_code == 200
    for thread in threads:
        thread.join(10)
    elapsed = time.monotonic() - started
    assert len(results) == 8
    assert all(text == expected.text for text, _ in results.values())
    assert all(duration >= 0.4 for _, duration in results.values())
    assert elapsed < 8 * 0.5 / 2  # they ran in parallel, not one after another


# ------------------------------------------------------------------ ServerThread


def test_server_thread_runs_any_app_and_stops() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"scripted"})

    thread = ServerThread(app)
    try:
        assert thread.url == f"http://127.0.0.1:{thread.port}" and thread.port > 0
        assert requests.get(thread.url, timeout=5).text == "scripted"
    finally:
        thread.stop()
    assert not thread.running
    with pytest.raises(requests.ConnectionError):
        requests.get(thread.url, timeout=2)


def test_stop_does_not_wait_for_a_stalled_stream() -> None:
    running = serve(tokens_per_second=0)
    response = post(running, EGP, body("demo?fault=stall-mid&stall=30", True), stream=True)
    assert response.status_code == 200
    started = time.monotonic()
    running.stop()
    assert time.monotonic() - started < 5 and not running.running


def test_serve_inside_a_running_event_loop() -> None:
    import asyncio

    async def main() -> str:
        with serve(tokens_per_second=0) as inner:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(None, lambda: post(inner, EGP, body()))
            return str(response.json()["chat_completion"]["message"]["content"])

    # A thread of its own: this test process may already run a loop in the main thread
    # (Playwright's sync API keeps one running while the browser tests' session lasts).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        text = pool.submit(asyncio.run, main()).result(timeout=30)
    assert text == generate(USER_TOKEN).text


def test_port_in_use_raises() -> None:
    with serve() as first, pytest.raises(OSError):
        serve(port=first.port)
