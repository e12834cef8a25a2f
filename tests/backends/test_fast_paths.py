"""The per-event fast paths (orjson, adapter shortcuts, text-only deltas) change no result."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nbchat.backends import get_backend
from nbchat.backends.accumulator import Accumulator, EventError, decode_event
from nbchat.records import Chunk, Delta


def _egp(content: Any = "hi", finish: Any = None, usage: Any = None, **msg: Any) -> str:
    return json.dumps(
        {
            "chat_completion": {
                "message": {"role": "agent", "content": content, **msg},
                "finish_reason": finish,
            },
            "token_usage": usage,
        }
    )


def _oa(delta: Any, finish: Any = None, index: Any = 0, **top: Any) -> str:
    return json.dumps(
        {
            "id": "c",
            "model": "m",
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
            **top,
        }
    )


EVENTS = {
    "egp": [
        _egp("hi"),
        _egp(""),
        _egp(None),
        _egp(5),
        _egp("x", finish="stop"),
        _egp("x", usage={"prompt": 1, "completion": 2, "total": 3}),
        _egp("x", tool_request={"name": "f", "arguments": "{}"}),
        '{"chat_completion": {"message": {"content": "nan"}}, "x": NaN}',
        '{"chat_completion": {"message": {"content": "big"}}, "x": 123456789012345678901234567890}',
        '{"chat_completion": {"message": {"content": "\\ud800 lone"}}}',
        '{"chat_completion": {"message": {"content": "dup"}}, '
        '"chat_completion": {"message": {"content": "second"}}}',
        '{"chat_completion": []}',
        '{"error": {"message": "boom"}}',
        "[1, 2]",
        '{"chat_completion": ',
    ],
    "openai": [
        _oa({"content": "hi"}),
        _oa({"role": "assistant", "content": ""}),
        _oa({"content": None}),
        _oa({"content": 7}),
        _oa({}, finish="stop"),
        _oa({"content": "x"}, index=1),
        _oa({"content": "x"}, index=True),
        _oa(
            {"content": "x"}, usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        ),
        _oa({"content": "x"}, timings={"predicted_n": 1}),
        _oa({"content": "x"}, timings=None),
        _oa({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}]}),
        _oa({"content": "x", "tool_calls": []}),
        _oa([1]),
        '{"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}',
        '{"model": 5, "choices": [{"delta": {"content": "no index"}}]}',
        '{"choices": [{"delta": {"content": "nan"}}], "x": NaN}',
        '{"error": "plain"}',
        '{"choices": "x"}',
    ],
}


def _reference(api: str, data: str) -> tuple[Any, Any]:
    """What the event gives through json.loads and the adapter's general code."""
    backend = get_backend(api)
    acc = Accumulator(backend, "model", clock=lambda: 0.0)
    try:
        obj = json.loads(data)
        if isinstance(obj, dict) and obj.get("error"):
            return "error", None
        delta = backend.parse_event(obj)
    except (ValueError, TypeError, AttributeError, LookupError):
        return "error", None
    return acc.add(delta), acc.reply("complete")


@pytest.mark.parametrize("api", ["egp", "openai"])
def test_add_event_matches_json_and_the_general_path(api: str) -> None:
    for data in EVENTS[api]:
        acc = Accumulator(get_backend(api), "model", clock=lambda: 0.0)
        try:
            chunk: Any = acc.add_event(data)
            reply: Any = acc.reply("complete")
        except EventError:
            chunk, reply = "error", None
        assert (chunk, reply) == _reference(api, data), data


@pytest.mark.parametrize("api", ["egp", "openai"])
def test_decode_event_accepts_what_json_accepts(api: str) -> None:
    for data in EVENTS[api]:
        try:
            json.loads(data)
        except ValueError:
            with pytest.raises(EventError):
                decode_event(get_backend(api), data)
            continue
        try:
            decode_event(get_backend(api), data)
        except EventError as exc:
            assert "malformed chunk from the server:" not in exc.message, data


def test_a_text_chunk_is_a_plain_chunk() -> None:
    acc = Accumulator(get_backend("egp"), "model", clock=lambda: 0.0)
    chunk = acc.add_event(_egp("tok"))
    assert chunk == Chunk("tok")
    assert type(chunk) is Chunk
    assert (chunk.delta, chunk.usage, chunk.finish_reason, chunk.tool_request) == (
        "tok",
        None,
        None,
        None,
    )
    assert hash(chunk) == hash(Chunk("tok"))


def test_fast_openai_delta_equals_the_general_one() -> None:
    backend = get_backend("openai")
    fast = backend.parse_event(json.loads(_oa({"content": "hi"})))
    assert fast == Delta("hi", model="m")
    assert type(fast) is Delta
