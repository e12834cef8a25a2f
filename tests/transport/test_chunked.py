"""nbchat's own chunked-body decoder (transport/chunked.py ``Dechunker``), split every way."""

from __future__ import annotations

import random

import pytest

from nbchat.transport.chunked import BodyInterrupted, Dechunker


class _Pieces:
    """A file whose ``read1`` hands out the given pieces, then b"" (end of body)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = iter(pieces)

    def read1(self, n: int) -> bytes:
        return next(self._pieces, b"")


def _chunked(datas: list[bytes], *, ext: bytes = b"", eol: bytes = b"\r\n") -> bytes:
    out = b"".join(b"%x%s%s%s\r\n" % (len(d), ext, eol, d) for d in datas)
    return out + b"0" + eol + b"\r\n"


def _split(body: bytes, sizes: list[int]) -> list[bytes]:
    out, i = [], 0
    for size in sizes:
        out.append(body[i : i + size])
        i += size
    out.append(body[i:])
    return [p for p in out if p]


def _decode(pieces: list[bytes]) -> bytes:
    return b"".join(Dechunker(_Pieces(pieces)).pieces())


EVENTS = [b'data: {"n": %d}\n\n' % i for i in range(300)]
BODIES = {
    "plain": (_chunked(EVENTS), b"".join(EVENTS)),
    "extensions": (_chunked(EVENTS, ext=b";x=1"), b"".join(EVENTS)),
    "lf-only size lines": (_chunked(EVENTS, eol=b"\n"), b"".join(EVENTS)),
    "crlf in data": (_chunked([b"data: a\r\n\r\n"] * 50), b"data: a\r\n\r\n" * 50),
    "large chunk": (_chunked([b"x" * 200_000, b"y" * 10]), b"x" * 200_000 + b"y" * 10),
    "upper-case hex": (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_any_split_gives_the_same_bytes(name: str) -> None:
    body, expected = BODIES[name]
    assert _decode([body]) == expected
    assert _decode([body[i : i + 1] for i in range(len(body))]) == expected
    rng = random.Random(name)
    for _ in range(20):
        sizes = [rng.randint(1, 5000) for _ in range(len(body) // 1000 + 1)]
        assert _decode(_split(body, sizes)) == expected


def test_bytes_after_the_last_chunk_are_not_read() -> None:
    assert _decode([b"3\r\nabc\r\n0\r\n\r\n", b"garbage"]) == b"abc"


@pytest.mark.parametrize(
    "body",
    [b"5\r\nabc", b"3\r\nabc\r\n", b"3\r\nabc\r\n4\r\nab", b""],
    ids=["mid-chunk", "before-next-size", "second-chunk", "empty"],
)
def test_a_body_cut_before_its_last_chunk_is_interrupted(body: bytes) -> None:
    with pytest.raises(BodyInterrupted):
        _decode([body])


@pytest.mark.parametrize("line", [b"zz", b"-5", b"x" * 2000])
def test_a_bad_size_line_is_interrupted(line: bytes) -> None:
    with pytest.raises(BodyInterrupted):
        _decode([b"3\r\nabc\r\n" + line + b"\r\nabcde\r\n0\r\n\r\n"])


def test_a_second_reader_continues_where_the_first_stopped() -> None:
    body = _chunked(EVENTS)
    dechunker = Dechunker(_Pieces(_split(body, [100, 3000])))
    first = next(dechunker.pieces())
    rest = b"".join(dechunker.pieces())
    assert first + rest == b"".join(EVENTS)
