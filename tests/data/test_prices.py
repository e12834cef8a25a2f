"""Prices (issue 15): golden costs against genai-prices, set_price, unknown -> NaN and one
warning, cached tokens priced apart, and the cost columns of history() and usage()."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Iterator
from typing import Any

import genai_prices
import pytest

import nbchat
from nbchat.backends.openai import OpenAI
from nbchat.data import prices
from nbchat.records import Usage

OPENAI = "https://api.openai.com/v1/chat/completions"
SPELLBOOK = "https://api.spellbook.scale.com/egp/v1/chat-completions"
#: A fixed request time: the golden values are the prices in effect then.
AT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3-mini", "gpt-5-mini"]


@pytest.fixture(autouse=True)
def _fresh_prices() -> Iterator[None]:
    prices.reset()
    yield
    prices.reset()


def expected(
    model: str, prompt: int, completion: int, cached: int | None, at: dt.datetime = AT
) -> float:
    counts = {"input_tokens": prompt, "output_tokens": completion}
    if cached is not None:
        counts["cache_read_tokens"] = cached
    calc = genai_prices.calc_price(
        genai_prices.Usage(**counts), model, provider_id="openai", genai_request_timestamp=at
    )
    return float(calc.total_price)


@pytest.mark.parametrize("model", MODELS)
def test_golden_costs_equal_genai_prices(model: str) -> None:
    plain = prices.cost(Usage(12_000, 800, 12_800), model, OPENAI, at=AT)
    cached = prices.cost(Usage(12_000, 800, 12_800, cached=9_000), model, OPENAI, at=AT)
    assert plain is not None and cached is not None
    assert plain.usd == expected(model, 12_000, 800, None) > 0
    assert cached.usd == expected(model, 12_000, 800, 9_000)
    assert cached.usd < plain.usd  # cached input is priced apart, and cheaper
    assert "genai-prices" in plain.source and "2026-11-30" in plain.source


def test_golden_values_by_hand() -> None:
    """gpt-4o: $2.50 in, $1.25 cached in, $10 out per 1M tokens (the database's own rates)."""
    c = prices.cost(Usage(10_000, 1_000, 11_000, cached=4_000), "gpt-4o", OPENAI, at=AT)
    assert c is not None and c.usd == pytest.approx((6_000 * 2.5 + 4_000 * 1.25 + 10_000) / 1e6)


def test_spellbook_prices_by_the_model_name() -> None:
    c = prices.cost(Usage(1_000, 100, 1_100), "gpt-4o-mini", SPELLBOOK, at=AT)
    assert c is not None and c.usd == expected("gpt-4o-mini", 1_000, 100, None)
    assert prices.provider_for(SPELLBOOK, "claude-3-5-sonnet-latest") == "anthropic"


def test_spellbook_provider_prefixed_names() -> None:
    c = prices.cost(Usage(1_000, 100, 1_100), "openai/gpt-4o", SPELLBOOK, at=AT)
    assert c is not None and c.usd == expected("gpt-4o", 1_000, 100, None)
    assert prices.provider_for(SPELLBOOK, "anthropic/claude-3-5-sonnet-20241022") == "anthropic"
    with pytest.warns(nbchat.UnpricedModelWarning, match="no-such-provider/x"):
        assert prices.cost(Usage(1, 1, 2), "no-such-provider/x", SPELLBOOK) is None


def test_price_provider_declared_on_the_client(live_server: Any) -> None:
    """A proxy on a private host, declared as OpenAI: the reply is priced as gpt-4o-mini."""
    client = nbchat.Client(base_url=live_server.url + "/v1", api="openai", price_provider="openai")
    reply = client.complete([{"role": "user", "content": "hi"}], "gpt-4o-mini")
    assert reply.usage is not None and reply.usage.prompt and reply.usage.completion
    at = dt.datetime.now(dt.UTC)  # the prices in effect when the request was sent
    want = expected("gpt-4o-mini", reply.usage.prompt, reply.usage.completion, None, at)
    assert reply.cost == pytest.approx(want) and reply.price_source is not None
    assert f"prices in effect {at:%Y-%m-%d}" in reply.price_source


def test_a_gateway_needs_the_provider_declared() -> None:
    gateway = "https://llm-gateway.example.edu/v1/chat/completions"
    with pytest.warns(nbchat.UnpricedModelWarning, match="llm-gateway.example.edu"):
        assert prices.cost(Usage(10, 5, 15), "gpt-4o", gateway) is None
    c = prices.cost(Usage(10, 5, 15), "gpt-4o", gateway, provider="openai", at=AT)
    assert c is not None and c.usd == expected("gpt-4o", 10, 5, None)


def test_unknown_is_none_never_zero_with_one_warning_per_model() -> None:
    local = "http://127.0.0.1:8765/v1/chat/completions"
    with pytest.warns(nbchat.UnpricedModelWarning) as caught:
        assert prices.cost(Usage(10, 5, 15), "my-llama", local) is None
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "my-llama" in message and "nbchat.set_price('my-llama'" in message
    assert "local server" in message
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        assert prices.cost(Usage(20, 5, 25), "my-llama", local) is None
        assert prices.cost(Usage(20, 5, 25), "my-llama?tps=5", local) is None
    assert again == []  # one warning per model
    with pytest.warns(nbchat.UnpricedModelWarning, match="no-such-model"):
        assert prices.cost(Usage(1, 1, 2), "no-such-model-xyz", OPENAI) is None


def test_set_price_overrides_and_ignores_the_options_suffix() -> None:
    local = "http://127.0.0.1:8765/v1/chat/completions"
    nbchat.set_price("demo", input=0.15, output=0.60)
    c = prices.cost(Usage(1_000, 200, 1_200), "demo?tps=50&chunks=3", local)
    assert c is not None and c.usd == pytest.approx((1_000 * 0.15 + 200 * 0.60) / 1e6)
    assert c.source.startswith("set_price()")
    # cached tokens: priced at cached_input when given, else at the input price
    nbchat.set_price("demo", input=1.0, output=2.0, cached_input=0.5)
    c = prices.cost(Usage(1_000, 100, 1_100, cached=600), "demo", local)
    assert c is not None and c.usd == pytest.approx((400 * 1.0 + 600 * 0.5 + 100 * 2.0) / 1e6)
    # it overrides the database
    nbchat.set_price("gpt-4o", input=1.0, output=1.0)
    c = prices.cost(Usage(1_000_000, 0, 1_000_000), "gpt-4o", OPENAI)
    assert c is not None and c.usd == pytest.approx(1.0)


def test_set_price_per_base_url() -> None:
    nbchat.set_price("m", input=1.0, output=1.0, base_url="http://10.0.0.5:8000/v1")
    nbchat.set_price("m", input=3.0, output=3.0)
    a = prices.cost(Usage(1_000_000, 0, 1_000_000), "m", "http://10.0.0.5:8000/v1/chat/completions")
    b = prices.cost(Usage(1_000_000, 0, 1_000_000), "m", "http://10.0.0.6:8000/v1/chat/completions")
    assert a is not None and b is not None and (a.usd, b.usd) == (1.0, 3.0)
    other_path = "http://10.0.0.5:8000/v10/chat/completions"  # a prefix, not the same base
    c = prices.cost(Usage(1_000_000, 0, 1_000_000), "m", other_path)
    assert c is not None and c.usd == 3.0


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "0.1", True])
def test_set_price_refuses_bad_numbers(bad: Any) -> None:
    with pytest.raises(nbchat.ConfigError, match="input"):
        nbchat.set_price("m", input=bad, output=1.0)


def test_unknown_usage_is_unknown_cost() -> None:
    nbchat.set_price("demo", input=1.0, output=1.0)
    local = "http://127.0.0.1:1/v1/chat/completions"
    assert prices.cost(None, "demo", local) is None
    assert prices.cost(Usage(10, None, None), "demo", local) is None


def test_cached_tokens_from_the_wire_are_priced_apart() -> None:
    """OpenAI's prompt_tokens_details.cached_tokens becomes Usage.cached, then a cheaper cost."""
    body = {
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 2_000,
            "completion_tokens": 10,
            "total_tokens": 2_010,
            "prompt_tokens_details": {"cached_tokens": 1_536},
        },
    }
    usage = OpenAI().parse_sync(body).usage
    assert usage == Usage(2_000, 10, 2_010, cached=1_536)
    assert usage.to_dict()["cached"] == 1_536
    body["usage"].pop("prompt_tokens_details")  # type: ignore[attr-defined]
    plain = OpenAI().parse_sync(body).usage
    assert plain is not None and plain.cached is None and "cached" not in plain.to_dict()
    a = prices.cost(usage, "gpt-4o", OPENAI, at=AT)
    b = prices.cost(plain, "gpt-4o", OPENAI, at=AT)
    assert a is not None and b is not None
    assert a.usd == expected("gpt-4o", 2_000, 10, 1_536) < b.usd


def test_cost_columns_from_a_real_server(live_server: Any) -> None:
    """history() and usage() carry the cost the demo server's usage gives at the set price."""
    nbchat.set_price("demo", input=100.0, output=300.0)
    client = nbchat.Client(base_url=live_server.url + "/v1", api="openai")
    convo: list[Any] = []
    for q in ("What is a token?", "And temperature?", "Why does the prompt grow?"):
        convo.append({"role": "user", "content": q})
        sent = [m.to_message() if isinstance(m, nbchat.Reply) else m for m in convo]
        convo.append(client.complete(sent, "demo?tps=0"))
    h = nbchat.history(convo)
    u = nbchat.usage(convo)
    replies = [m for m in convo if isinstance(m, nbchat.Reply)]
    for i, r in enumerate(replies):
        assert r.usage is not None and r.usage.prompt and r.usage.completion
        want = (r.usage.prompt * 100.0 + r.usage.completion * 300.0) / 1e6
        assert r.cost == pytest.approx(want) and u["cost"][i] == pytest.approx(want)
        assert r.request_bytes is not None and r.request_bytes > 0
    assert u["cumulative_cost"].tolist() == pytest.approx(
        [sum(r.cost or 0 for r in replies[: i + 1]) for i in range(3)]
    )
    assert h["cost"].dtype == "float64" and h["request_bytes"].dtype == "Int64"
    assert h["cost"].isna().tolist() == [True, False] * 3  # a user message costs nothing known
    # the re-sent history grows turn by turn
    sizes = [r.request_bytes for r in replies]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3


def test_no_price_is_nan_in_the_frames(live_server: Any) -> None:
    client = nbchat.Client(base_url=live_server.url + "/v1", api="openai")
    with pytest.warns(nbchat.UnpricedModelWarning, match="'unpriced-demo'"):
        reply = client.complete([{"role": "user", "content": "hi"}], "unpriced-demo?tps=0")
    assert reply.cost is None and reply.price_source is None
    u = nbchat.usage([{"role": "user", "content": "hi"}, reply])
    assert math.isnan(u["cost"][0]) and math.isnan(u["cumulative_cost"][0])
    assert u["total_tokens"][0] > 0  # the usage is known; only the price is not
