"""The OpenAI-compatible backend against the official ``openai`` package and edge servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

import nbchat
from nbchat.records import Reply
from nbchat.server.faults import FAULT_MODES, STATUS_FAULTS
from tests.scripted import Script, ScriptedServer

CONVERSATION = [
    {"role": "system", "content": "You are a patient teacher."},
    {"role": "user", "content": "What is a token?"},
    {"role": "assistant", "content": "A piece of text."},
    {"role": "user", "content": "And what does temperature do?"},
]


def nb_client(server: Any, **kw: Any) -> nbchat.Client:
    return nbchat.Client(base_url=server.url + "/v1", api_key="x", api="openai", **kw)


def nb_stream(client: nbchat.Client, messages: Any, model: str, **params: Any) -> Reply:
    stream = client.stream(messages, model, **params)
    with stream:
        for _ in stream:
            pass
    assert stream.reply is not None
    return stream.reply


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.stop()


def sse(*events: object) -> bytes:
    out = b""
    for e in events:
        data = e if isinstance(e, str) else json.dumps(e)
        out += f"data: {data}\n\n".encode()
    return out


# -- the official client and nbchat agree -------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"max_tokens": 12, "temperature": 0.5}])
def test_official_client_stream_matches_nbchat(live_server: Any, params: dict[str, Any]) -> None:
    oa = openai.OpenAI(base_url=live_server.url + "/v1", api_key="x")
    text = ""
    usage = None
    chunks = oa.chat.completions.create(
        model="demo",
        messages=CONVERSATION,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
        **params,
    )
    finish = None
    for chunk in chunks:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text and usage is not None

    reply = nb_stream(nb_client(live_server), CONVERSATION, "demo", **params)
    assert reply.status == "complete"
    assert reply.content == text
    assert reply.finish_reason == finish
    assert reply.usage == nbchat.Usage(
        usage.prompt_tokens, usage.completion_tokens, usage.total_tokens
    )


@pytest.mark.parametrize("params", [{}, {"max_tokens": 12}])
def test_official_client_sync_matches_nbchat(live_server: Any, params: dict[str, Any]) -> None:
    oa = openai.OpenAI(base_url=live_server.url + "/v1", api_key="x")
    done = oa.chat.completions.create(model="demo", messages=CONVERSATION, **params)  # type: ignore[arg-type]
    reply = nb_client(live_server).complete(CONVERSATION, "demo", **params)
    assert reply.content == done.choices[0].message.content
    assert reply.finish_reason == done.choices[0].finish_reason
    assert done.usage is not None
    assert reply.usage == nbchat.Usage(
        done.usage.prompt_tokens, done.usage.completion_tokens, done.usage.total_tokens
    )
    # and streaming gives the same text as the sync reply
    assert nb_stream(nb_client(live_server), CONVERSATION, "demo", **params).content == (
        reply.content
    )


# -- every fault mode of the embedded server -----------------------------------------------

#: fault -> (stream: exception, reply status, partial text kept; sync: the same)
EXPECTED: dict[str, tuple[tuple[type[Exception] | None, str | None, bool], ...]] = {
    "401": ((nbchat.AuthenticationError, None, False),) * 2,
    "403": ((nbchat.AuthenticationError, None, False),) * 2,
    "404": ((nbchat.NotFoundError, None, False),) * 2,
    "422": ((nbchat.BadRequestError, None, False),) * 2,
    "429": ((nbchat.RateLimitError, None, False),) * 2,
    "500": ((nbchat.ServerError, None, False),) * 2,
    "502": ((nbchat.ServerError, None, False),) * 2,
    "malformed": ((nbchat.StreamError, "error", True), (nbchat.StreamError, "error", False)),
    "drop": ((nbchat.StreamError, "incomplete", True), (nbchat.StreamError, "incomplete", False)),
    "stall": ((nbchat.APIConnectionError, None, False),) * 2,
    "stall-mid": (
        (nbchat.StreamError, "incomplete", True),
        (nbchat.APIConnectionError, None, False),
    ),
    "empty": ((nbchat.StreamError, "error", False),) * 2,
    "error-event": ((nbchat.StreamError, "error", True), (None, "complete", True)),
    "event-error": ((nbchat.StreamError, "error", True), (None, "complete", True)),
    "error-field": ((nbchat.StreamError, "error", True), (None, "complete", True)),
    "json": ((None, "complete", True),) * 2,
}

MESSAGES_BY_FAULT = {
    "malformed": "malformed",
    "drop": "dropped",
    "empty": "empty response",
    "error-event": "overloaded",
    "event-error": "overloaded",
    "error-field": "context size",
    "stall": "timed out",
    "401": "authentication failed",
    "403": "permission denied",
    "404": "not found",
    "422": "messages",
    "429": "rate limited",
    "500": "500",
    "502": "502",
}


def test_fault_table_is_covered() -> None:
    assert set(EXPECTED) == set(FAULT_MODES)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "sync"])
@pytest.mark.parametrize("fault", sorted(FAULT_MODES))
def test_fault_modes(live_server: Any, fault: str, stream: bool) -> None:
    exc_type, status, keeps_text = EXPECTED[fault][0 if stream else 1]
    model = f"demo?fault={fault}&stall=1.2"
    client = nb_client(live_server, max_retries=0, timeout=(5.0, 0.5))
    messages = [{"role": "user", "content": "What is a token?"}]
    full = nb_client(live_server).complete(messages, "demo").content
    reply: Reply | None = None
    error: nbchat.APIError | None = None
    s = client.stream(messages, model) if stream else None
    try:
        if s is not None:
            with s:
                for _ in s:
                    pass
            reply = s.reply
        else:
            reply = client.complete(messages, model)
    except nbchat.APIError as exc:
        error = exc
        reply = exc.reply if isinstance(exc, nbchat.StreamError) else None
    if exc_type is None:
        assert error is None
        assert reply is not None and reply.status == status and reply.content == full
        return
    assert type(error) is exc_type, repr(error)
    assert error is not None
    if fault in STATUS_FAULTS:
        assert error.status == int(fault)
    if fault in MESSAGES_BY_FAULT and fault != "stall-mid":
        assert MESSAGES_BY_FAULT[fault] in error.message
    if isinstance(error, nbchat.StreamError):
        assert reply is not None and reply.status == status
        assert error.partial == reply.content
        if keeps_text:
            assert reply.content and full.startswith(reply.content)
            assert reply.content != full
        else:
            assert reply.content == ""
    assert "sk-" not in error.message


# -- include_usage, missing usage, tool calls, llama.cpp, Ollama ---------------------------

DONE_STREAM = sse(
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
    {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
    "[DONE]",
)


def test_include_usage_rejected_is_retried_without_it(scripted: ScriptedServer) -> None:
    rejected = {"error": {"message": "Unrecognized request argument supplied: stream_options"}}
    scripted.push(Script(status=400, content_type="application/json",
                         body=json.dumps(rejected).encode()))  # fmt: skip
    scripted.push(Script(body=DONE_STREAM))
    client = nbchat.Client(base_url=scripted.url + "/v1", api="openai", api_key="x")
    stream = client.stream([{"role": "user", "content": "hi"}], "m")
    with stream:
        text = "".join(c.delta for c in stream)
    assert text == "Hello"
    assert stream.requests_made == 2
    assert stream.reply is not None and stream.reply.status == "complete"
    assert stream.reply.usage is None
    first, second = (r["json"] for r in scripted.requests)
    assert first["stream_options"] == {"include_usage": True}
    assert "stream_options" not in second
    assert second["messages"] == first["messages"]


def test_no_usage_from_the_server_means_usage_none(scripted: ScriptedServer) -> None:
    scripted.push(Script(body=DONE_STREAM))
    client = nbchat.Client(base_url=scripted.url + "/v1", api="openai")
    reply = nb_stream(client, [{"role": "user", "content": "hi"}], "m")
    assert reply.content == "Hello" and reply.usage is None


def test_include_usage_off_against_the_demo_server(live_server: Any) -> None:
    reply = nb_stream(nb_client(live_server, include_usage=False), CONVERSATION, "demo")
    assert reply.status == "complete" and reply.content and reply.usage is None
    assert live_server.requests[-1]["stream"] is True


def test_tool_call_fragments_merge_by_index_and_are_not_executed(
    scripted: ScriptedServer,
) -> None:
    def call(index: int, args: str, name: str | None = None, id: str | None = None) -> object:
        fn: dict[str, Any] = {"arguments": args}
        if name:
            fn["name"] = name
        tc: dict[str, Any] = {"index": index, "function": fn}
        if id:
            tc["id"] = id
            tc["type"] = "function"
        return {"choices": [{"index": 0, "delta": {"tool_calls": [tc]}, "finish_reason": None}]}

    body = sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]},
        call(0, "", name="get_weather", id="call_1"),
        call(0, '{"city": '),
        call(0, '"Paris"'),
        call(0, "}"),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        "[DONE]",
    )
    scripted.push(Script(body=body, piece=7))
    client = nbchat.Client(base_url=scripted.url + "/v1", api="openai")
    reply = nb_stream(client, [{"role": "user", "content": "weather?"}], "m")
    assert reply.status == "complete"
    assert reply.finish_reason == "tool_calls"
    assert reply.content == ""
    assert reply.tool_request == nbchat.ToolRequest("get_weather", '{"city": "Paris"}', "call_1")
    assert json.loads(reply.tool_request.arguments) == {"city": "Paris"}
    assert len(scripted.requests) == 1  # nothing was executed or sent back


def test_llama_cpp_timings_are_kept_in_extra(scripted: ScriptedServer) -> None:
    timings = {"prompt_n": 5, "predicted_n": 2, "predicted_per_second": 41.5}
    body = sse(
        {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
         "timings": timings},
        "[DONE]",
    )  # fmt: skip
    scripted.push(Script(body=body))
    client = nbchat.Client(base_url=scripted.url + "/v1", api="openai")
    reply = nb_stream(client, [{"role": "user", "content": "hi"}], "m")
    assert reply.content == "Hi"
    assert reply.extra["timings"] == timings
    assert reply.usage == nbchat.Usage(5, 2, 7)


def test_ollama_style_role_on_every_chunk(scripted: ScriptedServer) -> None:
    pieces = ["The", " sky", " is", " blue", "."]
    events: list[object] = [
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "llama3",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": p},
                      "finish_reason": None}]}
        for p in pieces
    ]  # fmt: skip
    events.append(
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "llama3",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                      "finish_reason": "stop"}]}
    )  # fmt: skip
    events.append("[DONE]")
    scripted.push(Script(body=sse(*events)))
    client = nbchat.Client(base_url=scripted.url + "/v1", api="openai")
    stream = client.stream([{"role": "user", "content": "colour?"}], "llama3")
    with stream:
        deltas = [c.delta for c in stream if c.delta]
    assert deltas == pieces
    assert stream.reply is not None
    assert stream.reply.content == "The sky is blue."
    assert stream.reply.finish_reason == "stop"
    assert stream.reply.model == "llama3"
