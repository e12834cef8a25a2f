"""The demo model: tokenizer round trip, token counts, context-aware deterministic replies."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nbchat.server.demo_model import compose_reply, count_prompt_tokens, generate, tokenize


@given(st.text())
def test_tokenize_round_trips_any_text(text: str) -> None:
    assert "".join(tokenize(text)) == text


@given(st.text(min_size=1))
def test_tokenize_pieces_are_short_and_non_empty(text: str) -> None:
    for piece in tokenize(text):
        assert piece
        assert len(piece.strip()) <= 6


def test_tokenize_attaches_leading_space_and_splits_long_words() -> None:
    assert tokenize("Hello, tokenization!") == ["Hello", ",", " tokeni", "zation", "!"]
    assert tokenize("  a  ") == ["  a", "  "]


def test_prompt_tokens_grow_with_history() -> None:
    one = [{"role": "user", "content": "Hi there"}]
    two = [*one, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Hi"}]
    assert count_prompt_tokens(one) == 2 + 4 + 3
    assert count_prompt_tokens(two) == (2 + 4) + (1 + 4) + (1 + 4) + 3


def test_reply_is_deterministic_and_counts_pieces() -> None:
    messages = [{"role": "user", "content": "How does streaming work?"}]
    first, second = generate(messages), generate(messages)
    assert first == second
    assert first.completion_tokens == len(tokenize(first.text))
    assert first.finish_reason == "stop"
    assert "```python" in first.text and "- " in first.text and "**" in first.text


def test_topics_follow_the_last_user_message() -> None:
    cases = {
        "What is a token?": "About tokens",
        "How does streaming work?": "About streaming",
        "What does temperature do?": "About temperature",
        "What is a system prompt?": "About system prompts",
        "Why does the prompt grow each turn?": "About why the prompt grows",
        "How much does usage cost?": "About token usage and cost",
        "What does max_tokens do?": "About max_tokens and stop sequences",
        "What can you do?": "Ask me about",
        "Hello!": "Hello!",
        "Tell me a joke": "I can only talk about",
    }
    for question, expected in cases.items():
        assert expected in compose_reply([{"role": "user", "content": question}]), question


def test_reply_knows_the_conversation() -> None:
    messages = [
        {"role": "user", "content": "Hi, my name is Ada."},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "What is a token?"},
        {"role": "assistant", "content": "A piece of text."},
        {"role": "user", "content": "And streaming?"},
    ]
    reply = compose_reply(messages)
    assert "Ada" in reply
    assert "Turn 3" in reply
    assert "Earlier you asked about tokens" in reply
    assert "Nice to meet you, **Ada**" in compose_reply(messages[:1])


def test_brief_system_prompt_gives_a_short_answer() -> None:
    question = {"role": "user", "content": "What is a token?"}
    brief = compose_reply([{"role": "system", "content": "Be terse."}, question])
    assert brief.count(".") <= 2 and "\n" not in brief
    assert len(brief) < len(compose_reply([question])) / 3
    asked = compose_reply(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "system prompt?"}]
    )
    assert "following your system prompt" in asked


def test_max_tokens_and_stop_sequences() -> None:
    messages = [{"role": "user", "content": "What is a token?"}]
    full = generate(messages)
    cut = generate(messages, max_tokens=5)
    assert cut.pieces == full.pieces[:5] and cut.finish_reason == "length"
    stopped = generate(messages, stop=["token", "never-there"])
    assert stopped.text == full.text[: full.text.index("token")]
    assert stopped.finish_reason == "stop"
    assert generate(messages, max_tokens=10**9) == full


def test_echo_and_bench_models() -> None:
    text = "<script>alert('x')</script> héllo 🌍"
    echo = generate([{"role": "user", "content": text}], model="echo")
    assert echo.text == text
    bench = generate([{"role": "user", "content": "x"}], model="bench", chunks=7)
    assert bench.pieces == ("tok ",) * 7
