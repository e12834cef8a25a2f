"""Connections that never finish their request are closed (issue 10 item 8).

Before `nbchat.server.protocol`, uvicorn held a connection that sent half a request head for as
long as the client liked (300 such connections stayed open for over 15 s).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from nbchat.server import Server, serve
from nbchat.server.protocol import HEAD_TIMEOUT_S, with_head_timeout

from .conftest import EGP

TIMEOUT = 1.0
HALF_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\n"


@pytest.fixture(scope="module")
def strict() -> Iterator[Server]:
    with serve(tokens_per_second=0, request_timeout=TIMEOUT) as running:
        yield running


def wait_closed(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closed `sock` (recv returns b""), and what it sent first."""
    started = time.monotonic()
    sock.settimeout(limit)
    received = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            pytest.fail(f"still open after {limit} s")
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return time.monotonic() - started, received


def test_half_a_request_head_is_closed_after_the_timeout(strict: Server) -> None:
    with socket.create_connection((strict.host, strict.port)) as sock:
        sock.sendall(HALF_HEAD)
        elapsed, received = wait_closed(sock, TIMEOUT + 5)
    assert TIMEOUT * 0.8 <= elapsed <= TIMEOUT + 1.5
    assert received.startswith(b"HTTP/1.1 408 Request Timeout")


def test_a_silent_connection_is_closed_too(strict: Server) -> None:
    with socket.create_connection((strict.host, strict.port)) as sock:
        elapsed, received = wait_closed(sock, TIMEOUT + 5)
    assert elapsed <= TIMEOUT + 1.5 and received == b""


def test_three_hundred_half_open_connections_are_all_closed(strict: Server) -> None:
    socks = [socket.create_connection((strict.host, strict.port)) for _ in range(300)]
    try:
        for sock in socks:
            sock.sendall(HALF_HEAD)
        started = time.monotonic()
        for sock in socks:
            wait_closed(sock, TIMEOUT + 10)
        assert time.monotonic() - started <= TIMEOUT + 5
        # and the server still answers
        ok = requests.post(
            strict.url + EGP,
            json={"model": "echo", "messages": [{"role": "user", "content": "ok"}]},
            timeout=10,
        )
        assert ok.status_code == 200
    finally:
        for sock in socks:
            sock.close()


def test_half_a_second_request_on_a_kept_alive_connection_is_closed(strict: Server) -> None:
    body = json.dumps({"model": "echo", "messages": [{"role": "user", "content": "ok"}]})
    request = (
        f"POST {EGP} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    with socket.create_connection((strict.host, strict.port)) as sock:
        sock.sendall(request)
        sock.settimeout(5)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(HALF_HEAD)  # cancels uvicorn's keep-alive timer
        elapsed, received = wait_closed(sock, TIMEOUT + 5)
    assert elapsed <= TIMEOUT + 1.5
    assert b"408" in received


def test_a_body_that_stops_arriving_gets_408(strict: Server) -> None:
    head = (
        f"POST {EGP} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    ).encode()
    with socket.create_connection((strict.host, strict.port)) as sock:
        sock.sendall(head + b'{"model": ')
        elapsed, received = wait_closed(sock, TIMEOUT + 5)
    assert elapsed <= TIMEOUT + 1.5
    assert received.startswith(b"HTTP/1.1 408")
    assert b"did not arrive within 1 s" in received


def test_a_slow_stream_is_not_cut_by_the_timeout(strict: Server) -> None:
    """The deadline covers the request only, never the response."""
    started = time.monotonic()
    response = requests.post(
        strict.url + EGP,
        json={"model": "bench?chunks=15&tps=10", "messages": [{"role": "user", "content": "x"}],
              "stream": True},
        stream=True,
        timeout=10,
    )  # fmt: skip
    events = [line for line in response.iter_lines() if line.startswith(b"data: ")]
    assert len(events) == 15 and time.monotonic() - started > TIMEOUT


def test_default_and_bad_timeouts() -> None:
    assert HEAD_TIMEOUT_S == 10.0
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="request_timeout"):
            with_head_timeout(bad)


def test_a_413_survives_a_client_still_sending_its_body() -> None:
    """Lingering close: the server answers 413 from Content-Length before reading the body;
    a client still sending must still read that answer. With a plain close, the kernel answers
    the bytes that keep arriving with a reset, and the 413 is lost ("connection broken")."""
    with serve() as server:
        head = (
            f"POST {EGP} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "content-type: application/json\r\ncontent-length: 10485760\r\n\r\n"
        ).encode()
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(head + b"x" * 65536)
            time.sleep(0.3)  # the 413 is out and the server has begun to close
            for _ in range(16):  # the client goes on sending, as requests does
                sock.sendall(b"x" * 65536)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"too large" in answer.lower()
