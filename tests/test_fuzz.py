"""Property tests: the SSE decoder, both protocol adapters, and whole streams over a socket.

* any bytes, split anywhere, never make the decoder raise, and give the same output as one chunk;
* a valid generated stream (data/event/id/comments, LF/CRLF/CR) decodes to exactly the
  generated events however it is split;
* the adapters map any JSON value to a Delta or to the documented "malformed chunk"
  exceptions (ValueError, TypeError, AttributeError), which the client turns into StreamError;
* a valid EGP / OpenAI body written in random piece sizes always gives the same reply.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbchat
from nbchat.backends import EGP, OpenAI
from nbchat.records import Delta
from nbchat.transport.sse import ServerSentEvent, SSEDecoder, UnknownField
from tests.scripted import Script, ScriptedServer

MALFORMED = (ValueError, TypeError, AttributeError)

# ---------------------------------------------------------------- helpers


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for p in points:
        pieces.append(data[start:p])
        start = p
    pieces.append(data[start:])
    return pieces


def _decode(pieces: list[bytes]) -> tuple[list[Any], str, int | None]:
    dec = SSEDecoder()
    out: list[Any] = []
    for piece in pieces:
        out += dec.feed(piece)
    out += dec.close()
    return out, dec.last_event_id, dec.reconnection_time


# ---------------------------------------------------------------- the decoder


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_arbitrary_bytes_never_raise_and_split_is_invisible(data: bytes, cuts: list[int]) -> None:
    whole = _decode([data])
    split = _decode(_split(data, cuts))
    assert split == whole
    for item in whole[0]:
        assert isinstance(item, (ServerSentEvent, UnknownField))


# Bytes that exercise the line and field rules hard: terminators, colons, BOMs, multibyte.
_SSE_ALPHABET = st.sampled_from(
    [
        *(b"\r", b"\n", b"\r\n", b":", b" ", b"data", b"event", b"id", b"retry", b"error"),
        *(b"x", b"\xef\xbb\xbf", "é".encode(), "🌍".encode(), b"\xff", b"\x00", b"12"),
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_SSE_ALPHABET, max_size=60), st.lists(st.integers(0, 300), max_size=15))
def test_sse_shaped_bytes_split_anywhere(tokens: list[bytes], cuts: list[int]) -> None:
    data = b"".join(tokens)
    assert _decode(_split(data, cuts)) == _decode([data])
    # one byte at a time is the harshest split
    assert _decode([data[i : i + 1] for i in range(len(data))]) == _decode([data])


# A field value: any text without line terminators (they end the line).
_value = st.text(
    st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=20
)
_field = st.one_of(
    st.tuples(st.just("data"), _value),
    st.tuples(st.just("event"), _value),
    st.tuples(st.just("id"), _value.filter(lambda v: "\x00" not in v)),
    st.tuples(st.just("comment"), _value),
)
_event = st.lists(_field, max_size=5)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_event, max_size=8),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
    st.lists(st.integers(0, 2000), max_size=20),
)
def test_valid_stream_decodes_to_the_generated_events(
    events: list[list[tuple[str, str]]], eol: str, bom: bool, cuts: list[int]
) -> None:
    lines: list[str] = []
    expected: list[ServerSentEvent] = []
    last_id = ""
    for fields in events:
        data: list[str] = []
        etype = ""
        for name, value in fields:
            if name == "comment":
                lines.append(":" + value)
                continue
            lines.append(f"{name}: {value}")  # one space after the colon is dropped
            if name == "data":
                data.append(value)
            elif name == "event":
                etype = value
            else:
                last_id = value
        lines.append("")  # the blank line dispatches
        if data:
            expected.append(ServerSentEvent(etype or "message", "\n".join(data), last_id))
    text = "".join(line + eol for line in lines)
    raw = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    whole, whole_id, _ = _decode([raw])
    assert whole == expected
    assert whole_id == last_id
    assert _decode(_split(raw, cuts)) == (expected, last_id, None)
    # a cut stream: the unterminated tail is dropped, never dispatched half-way (rule 7)
    cut = raw[: len(raw) * 2 // 3]
    got = _decode([cut])[0]
    assert got == expected[: len(got)]


# ---------------------------------------------------------------- the adapters

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    # 1e400 is valid JSON and json.loads turns it into inf, so infinities are real inputs.
    st.floats(allow_nan=False),
    st.text(max_size=10),
)
_json = st.recursive(
    _json_leaf,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=25,
)


def _shaped(kind: str) -> st.SearchStrategy[Any]:
    """Objects with the real keys but arbitrary values: reaches deep into the adapters."""
    j = _json
    if kind == "egp":
        msg = st.fixed_dictionaries(
            {}, optional={"content": j, "role": j, "tool_request": j | _tool_request()}
        )
        cc = st.fixed_dictionaries({}, optional={"message": msg | j, "finish_reason": j})
        tu = st.fixed_dictionaries({}, optional={"prompt": j, "completion": j, "total": j})
        return st.fixed_dictionaries(
            {}, optional={"chat_completion": cc | j, "token_usage": tu | j}
        )
    call = st.fixed_dictionaries(
        {},
        optional={
            "index": j,
            "id": j,
            "function": st.fixed_dictionaries({}, optional={"name": j, "arguments": j}) | j,
        },
    )
    delta = st.fixed_dictionaries(
        {}, optional={"content": j, "tool_calls": st.lists(call | j, max_size=3) | j}
    )
    message = st.fixed_dictionaries(
        {}, optional={"content": j, "tool_calls": st.lists(call | j, max_size=3) | j}
    )
    choice = st.fixed_dictionaries(
        {},
        optional={
            "index": st.just(0) | j,
            "delta": delta | j,
            "message": message | j,
            "finish_reason": j,
        },
    )
    usage = st.fixed_dictionaries(
        {}, optional={"prompt_tokens": j, "completion_tokens": j, "total_tokens": j}
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "choices": st.lists(choice | j, max_size=3) | j,
            "usage": usage | j,
            "model": j,
            "timings": j,
        },
    )


def _tool_request() -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({"name": _json}, optional={"arguments": _json})


def _check_adapter(fn: Any, value: Any) -> None:
    try:
        delta = fn(value)
    except MALFORMED:
        return
    assert isinstance(delta, Delta)
    assert isinstance(delta.text, str)
    assert delta.finish_reason is None or isinstance(delta.finish_reason, str)
    for frag in delta.tool_fragments:
        assert isinstance(frag[0], int) and isinstance(frag[3], str)
    json.dumps(delta.text)  # always serialisable into the widget state


ADAPTERS = {
    "egp.parse_event": EGP().parse_event,
    "egp.parse_sync": EGP().parse_sync,
    "openai.parse_event": OpenAI().parse_event,
    "openai.parse_sync": OpenAI().parse_sync,
}


@pytest.mark.parametrize("name", sorted(ADAPTERS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_json)
def test_adapters_on_any_json(name: str, value: Any) -> None:
    _check_adapter(ADAPTERS[name], value)


@pytest.mark.parametrize("name", sorted(ADAPTERS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_adapters_on_protocol_shaped_json(name: str, data: st.DataObject) -> None:
    value = data.draw(_shaped(name.split(".")[0]))
    _check_adapter(ADAPTERS[name], value)


@pytest.mark.parametrize("name", sorted(ADAPTERS))
@pytest.mark.parametrize("index", [1e400, -1e400, float("nan"), "1", [0], {"a": 1}, True])
def test_tool_call_index_of_any_json_type(name: str, index: Any) -> None:
    """``"index": 1e400`` is valid JSON (json.loads gives inf): still a malformed chunk."""
    call = {"index": index, "id": "c", "function": {"name": "f", "arguments": "{}"}}
    value = {"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "message": {}}]}
    _check_adapter(ADAPTERS[name], value)


# ---------------------------------------------------------------- whole streams over a socket

WORDS = ["Hello", ", ", "wörld", " 🌍", "\n", "tokens", " end"]
TEXT = "".join(WORDS)


def _egp_body() -> bytes:
    out = b""
    for i, w in enumerate(WORDS):
        last = i == len(WORDS) - 1
        ev = {
            "chat_completion": {
                "message": {"role": "agent", "content": w},
                "finish_reason": "stop" if last else None,
            },
            "token_usage": {"prompt": 5, "completion": 7, "total": 12} if last else None,
        }
        out += b"data: " + json.dumps(ev, ensure_ascii=False).encode() + b"\n\n"
    return out


def _openai_body() -> bytes:
    out = b": keep-alive\r\n\r\n"
    for w in WORDS:
        ev = {"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
        out += b"data: " + json.dumps(ev, ensure_ascii=False).encode() + b"\r\n\r\n"
    out += b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\r\n\r\n'
    usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    out += b'data: {"choices":[],"usage":' + json.dumps(usage).encode() + b"}\r\n\r\n"
    out += b"data: [DONE]\r\n\r\n"
    return out


BODIES = {"egp": (_egp_body(), "/egp/v1"), "openai": (_openai_body(), "/v1")}


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.stop()


@pytest.mark.parametrize("api", sorted(BODIES))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(piece=st.integers(min_value=1, max_value=64), framing=st.sampled_from(["chunked", "close"]))
def test_stream_in_random_pieces_gives_the_same_reply(
    scripted: ScriptedServer, api: str, piece: int, framing: str
) -> None:
    body, prefix = BODIES[api]
    scripted.push(Script(body=body, piece=piece, framing=framing))
    client = nbchat.Client(base_url=scripted.url + prefix, api=api, max_retries=0)
    with client.stream([{"role": "user", "content": "hi"}], model="m") as stream:
        deltas = [c.delta for c in stream]
    reply = stream.reply
    assert reply is not None
    assert (reply.content, reply.status, reply.finish_reason) == (TEXT, "complete", "stop")
    assert reply.usage == nbchat.Usage(5, 7, 12)
    assert "".join(deltas) == TEXT


# End to end, a chunk the adapter cannot read must surface as StreamError (PROTOCOL.md 5.4),
# never as a bare Python exception out of the client.
MALFORMED_BODIES = {
    "sync-choices-object": (b'{"choices": {"a": 1}}', "application/json"),
    "event-tool-index-1e400": (
        b'data: {"choices":[{"index":0,"delta":{"content":"hi","tool_calls":'
        b'[{"index":1e400,"function":{"name":"f","arguments":""}}]}}]}\n\n'
        b"data: [DONE]\n\n",
        "text/event-stream",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_BODIES))
def test_malformed_openai_chunk_is_a_stream_error(scripted: ScriptedServer, case: str) -> None:
    body, ctype = MALFORMED_BODIES[case]
    scripted.push(Script(body=body, content_type=ctype))
    client = nbchat.Client(base_url=scripted.url + "/v1", api="openai", max_retries=0)
    stream = client.stream([{"role": "user", "content": "hi"}], model="m")
    with pytest.raises(nbchat.StreamError, match="malformed") as info, stream:
        list(stream)
    assert info.value.reply is not None and info.value.reply.status == "error"
