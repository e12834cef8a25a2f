"""The decoder's cost on long lines, and its size limit (issue 10, item 17)."""

from __future__ import annotations

import time

import pytest

from nbchat.transport.sse import MAX_SIZE, EventTooLarge, ServerSentEvent, SSEDecoder

PIECE = 64 * 1024


def _long_line_cpu(megabytes: int) -> float:
    """CPU seconds to decode one ``data:`` line of ``megabytes`` MB fed in 64 KiB pieces."""
    dec = SSEDecoder(max_size=100 * 1024 * 1024)
    piece = b"x" * PIECE
    t0 = time.thread_time()
    dec.feed(b"data: ")
    for _ in range(megabytes * 1024 * 1024 // PIECE):
        assert dec.feed(piece) == []
    out = dec.feed(b"\n\n")
    elapsed = time.thread_time() - t0
    assert len(out) == 1 and isinstance(out[0], ServerSentEvent)
    assert len(out[0].data) == megabytes * 1024 * 1024
    return elapsed


def test_a_long_line_costs_time_linear_in_its_length() -> None:
    # Ten times the bytes must cost about ten times the CPU, not a hundred (the decoder
    # re-joined its buffer per chunk: 40 MB took 15 s). A ratio within one run, no threshold
    # on time itself; the best of a few runs keeps noise out.
    small = min(_long_line_cpu(4) for _ in range(3))
    large = min(_long_line_cpu(40) for _ in range(2))
    ratio = large / max(small, 1e-4)
    assert ratio < 30, f"40 MB cost {ratio:.0f}x 4 MB (linear is ~10x, quadratic ~100x)"


def test_a_line_over_the_limit_raises_naming_it() -> None:
    dec = SSEDecoder(max_size=1000)
    dec.feed(b"data: ")
    dec.feed(b"x" * 600)
    with pytest.raises(EventTooLarge) as info:
        dec.feed(b"x" * 600)
    assert info.value.limit == 1000
    assert "1,000 characters" in str(info.value)


def test_a_long_line_arriving_whole_raises() -> None:
    dec = SSEDecoder(max_size=1000)
    with pytest.raises(EventTooLarge):
        dec.feed(b"data: " + b"x" * 2000 + b"\n\n")
    with pytest.raises(EventTooLarge):
        SSEDecoder(max_size=1000).feed(b"data: " + b"x" * 2000 + b"\r\n\r\n")


def test_an_event_of_many_lines_over_the_limit_raises() -> None:
    dec = SSEDecoder(max_size=1000)
    with pytest.raises(EventTooLarge):
        for _ in range(20):
            dec.feed(b"data: " + b"y" * 100 + b"\n")


def test_an_event_at_the_limit_passes() -> None:
    dec = SSEDecoder(max_size=1000)
    out = dec.feed(b"data: " + b"z" * 990 + b"\n\n")
    assert out == [ServerSentEvent("message", "z" * 990)]


def test_the_default_limit_is_16_mib() -> None:
    assert MAX_SIZE == 16 * 1024 * 1024
    assert SSEDecoder().max_size == MAX_SIZE
    assert "16 MiB" in str(EventTooLarge(MAX_SIZE))


def test_events_before_a_long_line_are_handed_over_first() -> None:
    dec = SSEDecoder(max_size=1000)
    out = dec.feed(b"data: a\n\ndata: b\n\ndata: " + b"x" * 2000 + b"\n\n")
    assert out == [ServerSentEvent("message", "a"), ServerSentEvent("message", "b")]
    with pytest.raises(EventTooLarge):
        dec.feed(b"data: c\n\n")
    with pytest.raises(EventTooLarge):
        dec.close()
