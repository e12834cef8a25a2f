"""Messages are sent faithfully, or refused before any request (issue 10, item 11).

The payload is checked on the wire: a real server on 127.0.0.1 records the JSON it got.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

import nbchat
from tests.scripted import Script, ScriptedServer

OPENAI_OK = b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]}'
EGP_OK = b'{"chat_completion": {"message": {"role": "agent", "content": "ok"}}}'

TOOL_CONVERSATION: list[dict[str, Any]] = [
    {"role": "developer", "content": "Use tools."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture, and the weather in Paris?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ],
        "name": "ada",
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "describe", "arguments": "{}"},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18 C, sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "a cat"}]},
]


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    yield s
    s.stop()


def _client(server: ScriptedServer, api: str) -> nbchat.Client:
    base = server.url + ("/v1" if api == "openai" else "/egp/v1")
    return nbchat.Client(base_url=base, api=api, api_key="k", max_retries=0)


def test_openai_message_shapes_pass_through_unchanged(server: ScriptedServer) -> None:
    sent = copy.deepcopy(TOOL_CONVERSATION)
    server.push(Script(content_type="application/json", body=OPENAI_OK))
    assert _client(server, "openai").complete(sent, model="m").content == "ok"
    assert server.requests[-1]["json"]["messages"] == TOOL_CONVERSATION
    assert sent == TOOL_CONVERSATION  # the caller's list is not changed either


def test_an_assistant_function_call_without_content_is_sent(server: ScriptedServer) -> None:
    """The deprecated function_call form, like tool_calls, has content None: it is sent."""
    msgs = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": "42"},
    ]
    server.push(Script(content_type="application/json", body=OPENAI_OK))
    _client(server, "openai").complete(msgs, model="m")
    assert server.requests[-1]["json"]["messages"] == msgs


def test_openai_record_fields_are_left_out(server: ScriptedServer) -> None:
    """A panel's message dicts carry nbchat's own fields; only OpenAI's are sent."""
    server.push(Script(content_type="application/json", body=OPENAI_OK))
    msg = {"role": "user", "content": "hi", "id": "x", "status": "complete", "usage": None}
    _client(server, "openai").complete([msg, {"role": "agent", "content": "yo"}], model="m")
    assert server.requests[-1]["json"]["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yo"},
    ]


def test_egp_sends_role_and_string_content(server: ScriptedServer) -> None:
    server.push(Script(content_type="application/json", body=EGP_OK))
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi", "id": "x"},
        {"role": "agent", "content": "hello"},
        {"role": "assistant", "content": ""},  # a failed turn: not sent
        {"role": "user", "content": "again"},
    ]
    _client(server, "egp").complete(msgs, model="m")
    assert server.requests[-1]["json"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]


BAD_OPENAI: list[tuple[dict[str, Any], str]] = [
    ({"role": "robot", "content": "x"}, "messages[1].role must be one of"),
    ({"content": "x"}, "messages[1].role is missing"),
    ({"role": "user", "content": None}, "messages[1].content is missing (None)"),
    ({"role": "user", "content": 5}, "messages[1].content must be a string or a list"),
    ({"role": "user", "content": ["text"]}, "messages[1].content[0] must be a content part"),
    ({"role": "user", "content": [{"type": "text", "text": 3}]}, "messages[1].content[0].text"),
    ({"role": "user", "content": "x", "name": 3}, "messages[1].name must be a string"),
    ({"role": "tool", "content": "18 C"}, "messages[1].tool_call_id must be the id"),
    ({"role": "user", "content": "x", "tool_call_id": "c"}, "tool_call_id is only allowed"),
    ({"role": "user", "content": "x", "tool_calls": []}, "tool_calls is only allowed"),
    ({"role": "assistant", "content": None, "tool_calls": "x"}, "tool_calls must be a list"),
    ({"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}, "tool_calls[0] must"),
    (
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"function": {"name": "f", "arguments": {}}}],
        },
        "tool_calls[0].function.arguments must be a JSON string",
    ),
]


@pytest.mark.parametrize(("bad", "says"), BAD_OPENAI)
def test_invalid_openai_messages_are_refused_before_any_request(
    server: ScriptedServer, bad: dict[str, Any], says: str
) -> None:
    before = len(server.requests)
    client = _client(server, "openai")
    with pytest.raises(nbchat.ConfigError) as info:
        client.complete([{"role": "user", "content": "hi"}, bad], model="m")
    assert says in str(info.value)
    with pytest.raises(nbchat.ConfigError):
        client.stream([{"role": "user", "content": "hi"}, bad], model="m")
    assert len(server.requests) == before


BAD_EGP: list[tuple[dict[str, Any], str]] = [
    ({"role": "tool", "content": "x"}, "messages[1].role must be one of"),
    ({"role": "developer", "content": "x"}, "messages[1].role must be one of"),
    ({"role": "user", "content": None}, "messages[1].content must be a string"),
    (
        {"role": "user", "content": [{"type": "text", "text": "x"}]},
        "messages[1].content must be a string",
    ),
    ({"role": "user", "content": 5}, "messages[1].content must be a string"),
    ({"role": "assistant", "content": None, "tool_calls": [{}]}, "messages[1].tool_calls"),
]


@pytest.mark.parametrize(("bad", "says"), BAD_EGP)
def test_invalid_egp_messages_are_refused_before_any_request(
    server: ScriptedServer, bad: dict[str, Any], says: str
) -> None:
    before = len(server.requests)
    with pytest.raises(nbchat.ConfigError) as info:
        _client(server, "egp").complete([{"role": "user", "content": "hi"}, bad], model="m")
    assert says in str(info.value)
    assert len(server.requests) == before
