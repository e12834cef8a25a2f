"""The ``split=N`` option: the reply cut into pieces of exactly N characters, one event each."""

from __future__ import annotations

import pytest

from nbchat.server import Server
from nbchat.server.faults import OptionError, parse_options

from .conftest import EGP, OPENAI, egp_stream_text, openai_stream_text, post

HOSTILE = '<img src=x onerror="alert(1)">\n```js\n</code></pre><script>x()</script>\n```\nend ü€'


def _body(model: str, text: str = HOSTILE, stream: bool = True) -> dict[str, object]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize("n", [1, 7])
def test_egp_pieces_are_n_characters_and_concatenate(server: Server, n: int) -> None:
    text, events = egp_stream_text(post(server, EGP, _body(f"echo?split={n}")))
    assert text == HOSTILE
    pieces = [e["chat_completion"]["message"]["content"] for e in events]
    assert all(len(p) == n for p in pieces[:-1])
    assert 1 <= len(pieces[-1]) <= n
    assert len(pieces) == -(-len(HOSTILE) // n)
    usage = events[-1]["token_usage"]
    assert usage["completion"] == len(pieces)
    assert usage["total"] == usage["prompt"] + usage["completion"]
    assert all(e["token_usage"] is None for e in events[:-1])


@pytest.mark.parametrize("n", [1, 7])
def test_openai_pieces_are_n_characters_and_concatenate(server: Server, n: int) -> None:
    text, chunks = openai_stream_text(post(server, OPENAI, _body(f"echo?split={n}&tps=0")))
    assert text == HOSTILE
    content = [
        c["choices"][0]["delta"]["content"]
        for c in chunks
        if c != "[DONE]" and c["choices"] and c["choices"][0]["delta"].get("content")
    ]
    assert "".join(content) == HOSTILE
    assert all(len(p) == n for p in content[:-1])
    assert chunks[-2]["usage"]["completion_tokens"] == len(content)


def test_split_applies_to_the_demo_model_and_sync_replies(server: Server) -> None:
    plain = post(server, EGP, _body("demo", "What is a token?", stream=False)).json()
    split = post(server, EGP, _body("demo?split=5", "What is a token?", stream=False)).json()
    text = plain["chat_completion"]["message"]["content"]
    assert split["chat_completion"]["message"]["content"] == text
    assert split["token_usage"]["completion"] == -(-len(text) // 5)


def test_split_larger_than_the_reply_is_one_piece(server: Server) -> None:
    text, events = egp_stream_text(post(server, EGP, _body("echo?split=100000", "short")))
    assert text == "short" and len(events) == 1
    assert events[0]["token_usage"]["completion"] == 1


@pytest.mark.parametrize("raw", ["0", "-1", "x", "1.5"])
def test_split_must_be_a_positive_integer(server: Server, raw: str) -> None:
    with pytest.raises(OptionError, match="split"):
        parse_options(f"echo?split={raw}")
    response = post(server, EGP, _body(f"echo?split={raw}"))
    assert response.status_code == 422
    assert "split" in str(response.json()["detail"])


def test_parse_split() -> None:
    assert parse_options("echo?split=3&tps=10").split == 3
    assert parse_options("echo").split is None
