"""The batch result's cost column (issue 15): each row's reply priced at the request's time,
NaN when no price is known (with the one warning per model), never 0."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

import nbchat
from nbchat.data import prices


@pytest.fixture(autouse=True)
def _fresh_prices() -> Iterator[None]:
    prices.reset()
    yield
    prices.reset()


def test_each_row_costs_its_usage_at_the_set_price(egp: nbchat.Client, frame: pd.DataFrame) -> None:
    nbchat.set_price("demo", input=2.0, output=8.0)
    out = nbchat.batch(frame, "{text}", model="demo", client=egp, progress=False)
    assert out["cost"].dtype == "float64" and out["cost"].notna().all()
    want = (out["prompt_tokens"] * 2.0 + out["completion_tokens"] * 8.0).astype(float) / 1e6
    assert out["cost"].tolist() == pytest.approx(want.tolist())


def test_no_price_is_nan_never_zero(egp: nbchat.Client, frame: pd.DataFrame) -> None:
    with pytest.warns(nbchat.UnpricedModelWarning, match="'demo'"):
        out = nbchat.batch(frame, "{text}", model="demo", client=egp, progress=False)
    assert out["cost"].isna().all() and (out["total_tokens"] > 0).all()
