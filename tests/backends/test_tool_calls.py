"""A reply keeps every tool call, in order (issue 10, item 12): ``reply.tool_calls`` beside
``tool_request`` (the first), in the message record and the panel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import nbchat
from tests.scripted import Script, ScriptedServer


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _call(index: int, **kw: Any) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, **kw}]}


# Three calls; their fragments interleave, as parallel tool calls may.
STREAM = b"".join(
    [
        _chunk(_call(0, id="c0", type="function", function={"name": "weather", "arguments": ""})),
        _chunk(_call(1, id="c1", type="function", function={"name": "time", "arguments": '{"tz'})),
        _chunk(_call(0, function={"arguments": '{"city": '})),
        _chunk(_call(2, id="c2", type="function", function={"name": "noop", "arguments": "{}"})),
        _chunk(_call(1, function={"arguments": '": "CET"}'})),
        _chunk(_call(0, function={"arguments": '"Paris"}'})),
        _chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    ]
)
EXPECTED = (
    nbchat.ToolRequest("weather", '{"city": "Paris"}', "c0"),
    nbchat.ToolRequest("time", '{"tz": "CET"}', "c1"),
    nbchat.ToolRequest("noop", "{}", "c2"),
)
SYNC = json.dumps(
    {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": t.id,
                            "type": "function",
                            "function": {"name": t.name, "arguments": t.arguments},
                        }
                        for t in EXPECTED
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
).encode()


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    yield s
    s.stop()


def _client(server: ScriptedServer, api: str = "openai") -> nbchat.Client:
    base = server.url + ("/v1" if api == "openai" else "/egp/v1")
    return nbchat.Client(base_url=base, api=api, api_key="k", max_retries=0)


@pytest.mark.parametrize("mode", ["stream", "sync"])
def test_every_tool_call_is_kept_in_order(server: ScriptedServer, mode: str) -> None:
    client = _client(server)
    if mode == "stream":
        server.push(Script(body=STREAM, piece=7))
        with client.stream("weather?", model="m") as s:
            list(s)
        reply = s.reply
    else:
        server.push(Script(content_type="application/json", body=SYNC))
        reply = client.complete("weather?", model="m")
    assert reply is not None and reply.status == "complete"
    assert reply.tool_calls == EXPECTED
    assert reply.tool_request == EXPECTED[0]  # kept: the first call
    assert reply.to_dict()["tool_calls"] == [t.to_dict() for t in EXPECTED]


def test_egp_tool_request_is_the_one_tool_call(server: ScriptedServer) -> None:
    body = {
        "chat_completion": {
            "message": {
                "role": "agent",
                "content": None,
                "tool_request": {"name": "lookup", "arguments": '{"q": 1}'},
            }
        }
    }
    server.push(Script(content_type="application/json", body=json.dumps(body).encode()))
    reply = _client(server, "egp").complete("hi", model="m")
    assert reply.tool_request == nbchat.ToolRequest("lookup", '{"q": 1}')
    assert reply.tool_calls == (reply.tool_request,)


def test_the_panel_message_holds_every_tool_call(server: ScriptedServer) -> None:
    panel = nbchat.ChatPanel(client=_client(server), model="m", store=False)
    server.push(Script(body=STREAM))
    reply = panel.send("weather?").wait(10)
    assert reply.tool_calls == EXPECTED
    bot = panel.messages[-1]
    assert bot["tool_calls"] == [t.to_dict() for t in EXPECTED]
    assert bot["tool_request"] == EXPECTED[0].to_dict()
    assert "tool_calls" not in panel.history().columns  # a nested object, like tool_request
    loaded = nbchat.ChatPanel.from_json(panel.to_json(), store=False)
    assert loaded.messages[-1]["tool_calls"] == bot["tool_calls"]
