"""Budgets (issue 15): a request whose worst case exceeds what remains is refused before it is
sent (counted at the server), with the numbers; no price known refuses too."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import nbchat
from nbchat.client.budget import DEFAULT_MAX_TOKENS, TOKENS_PER_MESSAGE, prompt_tokens_bound
from nbchat.data import prices


@pytest.fixture(autouse=True)
def _fresh_prices() -> Any:
    prices.reset()
    yield
    prices.reset()


def _client(server: Any, budget: float) -> nbchat.Client:
    return nbchat.Client(base_url=server.url + "/v1", api="openai", budget=budget)


def test_refused_before_sending_with_the_numbers(live_server: Any) -> None:
    nbchat.set_price("demo", input=1_000.0, output=1_000.0)  # $0.001 per token
    client = _client(live_server, budget=0.5)
    msgs = [{"role": "user", "content": "hello"}]
    before = live_server.stats()["requests"]
    with pytest.raises(nbchat.BudgetExceeded) as info:
        client.complete(msgs, "demo", max_tokens=1_000)  # worst case > $1
    assert live_server.stats()["requests"] == before  # nothing reached the server
    exc = info.value
    prompt = len(b"hello") + TOKENS_PER_MESSAGE
    assert exc.worst_case == pytest.approx((prompt + 1_000) * 0.001)
    assert (exc.remaining, exc.spent, exc.budget) == (0.5, 0.0, 0.5)
    assert f"{prompt:,} prompt tokens + 1,000 reply tokens" in str(exc)
    assert "$0.5000 of the $0.5000 budget remains" in str(exc)
    assert isinstance(exc, nbchat.NbchatError)
    # the same request with a smaller bound goes through, and is charged what it cost
    reply = client.complete(msgs, "demo", max_tokens=50)
    assert live_server.stats()["requests"] == before + 1
    assert client.budget is not None and reply.cost is not None
    assert client.budget.spent == pytest.approx(reply.cost)
    assert client.budget.remaining == pytest.approx(0.5 - reply.cost)


def test_spending_until_refused(live_server: Any) -> None:
    nbchat.set_price("demo", input=100.0, output=100.0)
    client = _client(live_server, budget=0.2)
    convo: list[dict[str, Any]] = []
    costs: list[float] = []
    with pytest.raises(nbchat.BudgetExceeded):
        for i in range(50):
            convo.append({"role": "user", "content": f"question {i}"})
            reply = client.complete(convo, "demo", max_tokens=100)
            convo.append(reply.to_message())
            assert reply.cost is not None
            costs.append(reply.cost)
    assert client.budget is not None
    assert client.budget.spent == pytest.approx(sum(costs)) and sum(costs) <= 0.2
    assert live_server.stats()["by_model"].get("demo", 0) >= len(costs)


def test_no_price_refuses_rather_than_guesses(live_server: Any) -> None:
    client = _client(live_server, budget=100.0)
    before = live_server.stats()["requests"]
    with pytest.raises(nbchat.BudgetExceeded, match="no price is known for model 'demo'") as info:
        client.stream([{"role": "user", "content": "hi"}], "demo?tps=0")
    assert "nbchat.set_price('demo'" in str(info.value) and info.value.worst_case is None
    assert live_server.stats()["requests"] == before


def test_max_tokens_unset_assumes_a_bound_and_says_so(live_server: Any) -> None:
    nbchat.set_price("demo", input=1.0, output=1.0)
    client = _client(live_server, budget=(DEFAULT_MAX_TOKENS - 1) / 1e6)
    with pytest.raises(nbchat.BudgetExceeded, match="assumed as max_tokens is unset"):
        client.complete([{"role": "user", "content": "hi"}], "demo")


def test_concurrent_requests_reserve_their_worst_case(live_server: Any) -> None:
    """A running request holds its worst case: a second one cannot spend it too."""
    nbchat.set_price("demo", input=1_000.0, output=1_000.0)
    client = _client(live_server, budget=0.15)
    first = client.stream([{"role": "user", "content": "a"}], "demo?tps=20", max_tokens=100)
    it = iter(first)
    next(it)  # the first request is running and holds about $0.105
    with pytest.raises(nbchat.BudgetExceeded, match="held by running requests"):
        list(client.stream([{"role": "user", "content": "b"}], "demo", max_tokens=100))
    it.close()  # stopped: no usage, so its cost is unknown and the worst case is charged
    assert first.reply is not None and first.reply.status == "cancelled"
    assert client.budget is not None and client.budget.reserved == 0.0
    assert client.budget.spent == pytest.approx((len(b"a") + TOKENS_PER_MESSAGE + 100) * 0.001)


def test_the_prompt_bound_is_bytes() -> None:
    payload = {"messages": [{"role": "user", "content": "héllo"}, {"role": "system"}]}
    assert prompt_tokens_bound(payload) == len("héllo".encode()) + 2 * TOKENS_PER_MESSAGE


@pytest.mark.parametrize("bad", [-1, float("nan"), "2", True])
def test_a_bad_budget_is_a_config_error(bad: Any) -> None:
    with pytest.raises(nbchat.ConfigError, match="budget"):
        nbchat.Client(base_url="http://127.0.0.1:9/v1", api="openai", budget=bad)


def test_an_unexpected_error_releases_the_hold(live_server: Any) -> None:
    """A request that dies of an error that is not an API error (a header requests refuses)
    frees what it held: the budget is not eaten by a request that never ran."""
    nbchat.set_price("demo", input=1_000.0, output=1_000.0)
    client = _client(live_server, budget=1.0)
    request = client.request([{"role": "user", "content": "a"}], "demo", max_tokens=100)
    bad = dataclasses.replace(request, headers={**request.headers, "x-bad": "a\nb"})
    with pytest.raises(nbchat.ConfigError):
        list(client.open(bad))
    assert client.budget is not None
    assert (client.budget.reserved, client.budget.spent) == (0.0, 0.0)
