"""Every per-request option has a cap (issue 10 item 7) and faults can hit a share of requests
(issue 12: ``rate`` and ``seed``)."""

from __future__ import annotations

import concurrent.futures
import json

import pytest
import requests

from nbchat.server import Server, serve
from nbchat.server.faults import LIMITS, OptionError, parse_options

from .conftest import EGP, OPENAI, USER_TOKEN, post

OVER = {
    "chunks": "10000000",
    "tps": "1e9",
    "ttft": "3600",
    "after": "100001",
    "times": "10000000",
    "retry_after": "86400",
    "stall": "100000",
    "split": "10000000",
    "rate": "1.5",
    "seed": str(2**40),
}


def test_every_numeric_option_has_a_limit() -> None:
    assert set(OVER) == set(LIMITS)


@pytest.mark.parametrize("name", sorted(OVER))
@pytest.mark.parametrize("path", [EGP, OPENAI])
def test_an_option_over_its_limit_is_a_4xx_naming_the_limit(
    server: Server, name: str, path: str
) -> None:
    before = len(server.requests)
    model = f"bench?{name}={OVER[name]}&tps=0"
    response = post(server, path, {"model": model, "messages": USER_TOKEN, "stream": True})
    assert response.status_code in (400, 422)
    text = json.dumps(response.json())
    assert f"option '{name}'" in text and f"limit of {LIMITS[name]:g}" in text
    assert len(server.requests) == before


@pytest.mark.parametrize("name", sorted(OVER))
def test_the_limit_itself_is_accepted(name: str) -> None:
    limit = LIMITS[name]
    value = int(limit) if float(limit).is_integer() else limit
    options = parse_options(f"bench?{name}={value}")
    assert getattr(options, name) == value
    with pytest.raises(OptionError, match="limit"):
        parse_options(f"bench?{name}={OVER[name]}")


def test_the_largest_bench_stream_is_served(server: Server) -> None:
    chunks = int(LIMITS["chunks"])
    model = f"bench?chunks={chunks}&tps=0"
    body = {"model": model, "messages": USER_TOKEN, "stream": True}
    with requests.post(server.url + EGP, json=body, stream=True, timeout=60) as response:
        events = sum(1 for line in response.iter_lines() if line.startswith(b"data: "))
    assert events == chunks


# ------------------------------------------------------------------ rate and seed


def fault_pattern(server: Server, model: str, n: int) -> list[bool]:
    """Which of n sequential requests got the fault (429)."""
    out = []
    for _ in range(n):
        status = post(server, EGP, {"model": model, "messages": USER_TOKEN}).status_code
        assert status in (200, 429)
        out.append(status == 429)
    return out


def test_rate_with_a_seed_is_deterministic_and_near_the_rate() -> None:
    model = "echo?fault=429&rate=0.1&seed=7&retry_after=0"
    with serve(tokens_per_second=0) as a, serve(tokens_per_second=0) as b:
        first = fault_pattern(a, model, 200)
        second = fault_pattern(b, model, 200)
    assert first == second
    assert 8 <= sum(first) <= 35  # about 10 % of 200
    other_seed = model.replace("seed=7", "seed=8")
    with serve(tokens_per_second=0) as c:
        assert fault_pattern(c, other_seed, 200) != first


def test_rate_without_a_seed_draws_at_random() -> None:
    with serve(tokens_per_second=0) as running:
        hits = sum(fault_pattern(running, "echo?fault=429&rate=0.5", 200))
    assert 50 <= hits <= 150  # binomial(200, 0.5): outside this range p < 1e-12


def test_rate_zero_and_one(server: Server) -> None:
    assert not any(fault_pattern(server, "echo?fault=429&rate=0&seed=1", 20))
    assert all(fault_pattern(server, "echo?fault=429&rate=1&seed=1", 20))


def test_rate_under_concurrency_keeps_the_count(server: Server) -> None:
    """Concurrent requests change which request fails, never how many do."""
    model = "echo?fault=500&rate=0.25&seed=3"

    def status(_: int) -> int:
        return post(server, OPENAI, {"model": model, "messages": USER_TOKEN}).status_code

    with serve(tokens_per_second=0) as fresh:
        expected = sum(s == 500 for s in (
            post(fresh, OPENAI, {"model": model, "messages": USER_TOKEN}).status_code
            for _ in range(80)
        ))  # fmt: skip
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(status, range(80)))
    assert sum(s == 500 for s in statuses) == expected
    assert set(statuses) <= {200, 500}
