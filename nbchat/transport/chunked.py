"""HTTP/1.1 chunked transfer coding, decoded by nbchat from blocks as they arrive.

A fast server sends one small HTTP chunk per SSE event, and urllib3's ``read_chunked`` costs
about 2 µs per chunk, more than the SSE decoder spends on the event (``benchmarks/
bench_read.py``). :func:`nbchat.transport.http.iter_body` uses :class:`Dechunker` for a chunked
body without a content encoding, and urllib3 for everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import repeat
from typing import Any

__all__ = ["READ_SIZE", "BodyInterrupted", "Dechunker"]

#: Bytes asked of the socket per read.
READ_SIZE = 64 * 1024


class BodyInterrupted(Exception):
    """The body broke off after the status line (cut, reset or read timeout)."""


#: Longest chunk-size line accepted (urllib3 allows 1024 bytes too).
_MAX_CHUNK_LINE = 1024


class Dechunker:
    """HTTP/1.1 chunked transfer coding (RFC 9112 7.1), decoded from blocks as they arrive.

    Each ``read1`` returns what the socket has (up to ``READ_SIZE``); the data of every
    chunk completed in that block is yielded as one piece. A block of well-formed chunks
    (``SIZE CRLF DATA CRLF`` with no CRLF inside the data, the usual SSE stream) is cut
    with ``bytes.split`` and its sizes checked against the data lengths in C, about half the
    cost of walking it chunk by chunk; anything else (extensions, LF-only lines, CRLF in
    the data, the last chunk) is walked chunk by chunk, and the split is not tried again
    once a block has needed the walk. State lives on the object, not in the generator, so a
    second :func:`iter_body` on the same response (the sync-body path after the first
    piece) continues where the first stopped. Trailers after the last chunk are not read:
    nbchat closes the connection after a stream.
    """

    __slots__ = ("_done", "_left", "_read1", "_rest", "_skip", "_split")

    def __init__(self, fp: Any) -> None:
        self._read1: Callable[[int], bytes] = fp.read1
        self._rest = b""  # an unfinished chunk-size line
        self._left = 0  # data bytes of the current chunk still to come
        self._skip = 0  # bytes of the CRLF after a chunk's data still to skip
        self._done = False
        self._split = True  # blocks have been well formed so far

    def pieces(self) -> Iterator[bytes]:
        read1 = self._read1
        while not self._done:
            data = read1(READ_SIZE)
            if not data:
                raise BodyInterrupted("the body ended before its last chunk")
            if self._left >= len(data) and not self._skip:  # inside a large chunk
                self._left -= len(data)
                if not self._left:
                    self._skip = 2  # the CRLF that ends the chunk's data
                yield data
                continue
            buf = self._rest + data if self._rest else data
            self._rest = b""
            out: list[bytes] = []
            if self._left or self._skip:  # the end of a chunk begun in an earlier block
                buf = self._finish_chunk(buf, out)
            if buf and self._split and not self._left and not self._skip:
                buf = self._split_block(buf, out)
            if buf:
                self._walk(buf, out)
            if out:
                yield out[0] if len(out) == 1 else b"".join(out)

    def _finish_chunk(self, buf: bytes, out: list[bytes]) -> bytes:
        """Take the rest of the current chunk's data and its CRLF; return what follows."""
        i = 0
        left = self._left
        if left:
            if left >= len(buf):
                out.append(buf)
                self._left = left - len(buf)
                if not self._left:
                    self._skip = 2
                return b""
            out.append(buf[:left])
            i = left
            self._left = 0
            self._skip = 2
        take = min(self._skip, len(buf) - i)
        self._skip -= take
        return buf[i + take :]

    def _split_block(self, buf: bytes, out: list[bytes]) -> bytes:
        """Take the whole chunks at the start of ``buf`` into ``out``; return the rest."""
        parts = buf.split(b"\r\n")
        tail = parts.pop()
        if len(parts) & 1:  # the last whole line is a size line: its chunk is unfinished
            tail = parts.pop() + b"\r\n" + tail
        if not parts:
            return buf
        sizes = parts[0::2]
        datas = parts[1::2]
        try:
            lengths = list(map(int, sizes, repeat(16)))
        except ValueError:  # an extension, or not a size at all
            lengths = []
        # The last chunk (size 0) is left to the walk, which ends the body there.
        if lengths != list(map(len, datas)) or 0 in lengths:
            self._split = False
            return buf
        out.append(b"".join(datas))
        return tail

    def _walk(self, buf: bytes, out: list[bytes]) -> None:
        left = self._left
        skip = self._skip
        i = 0
        n = len(buf)
        while True:
            if left:
                end = i + left
                if end > n:
                    out.append(buf[i:])
                    left = end - n
                    break
                out.append(buf[i:end])
                i = end
                left = 0
                skip = 2  # the CRLF that ends the chunk's data
            if skip:
                take = min(skip, n - i)
                i += take
                skip -= take
                if skip:
                    break
            j = buf.find(b"\n", i)
            if j == -1:
                if n - i > _MAX_CHUNK_LINE:
                    raise BodyInterrupted("a chunk-size line is too long")
                self._rest = buf[i:]
                break
            line = buf[i:j]
            semi = line.find(b";")  # chunk extensions are ignored
            try:
                size = int(line if semi == -1 else line[:semi], 16)
            except ValueError:
                raise BodyInterrupted(f"invalid chunk length {bytes(line[:40])!r}") from None
            if size < 0:
                raise BodyInterrupted(f"invalid chunk length {bytes(line[:40])!r}")
            i = j + 1
            if size == 0:
                self._done = True
                break
            left = size
        self._left = left
        self._skip = skip
