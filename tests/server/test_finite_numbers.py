"""Sampling parameters must be finite: NaN, Infinity and 1e400 parse as JSON but mean nothing."""

from __future__ import annotations

from typing import Any

import pytest
import requests


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize(
    ("path", "template", "status"),
    [
        (
            "/egp/v1/chat-completions",
            '{"model": "demo", "messages": [{"role": "user", "content": "hi"}], '
            '"model_parameters": {"temperature": %s}}',
            422,
        ),
        (
            "/v1/chat/completions",
            '{"model": "demo", "messages": [{"role": "user", "content": "hi"}], "temperature": %s}',
            400,
        ),
    ],
)
def test_non_finite_temperature_is_rejected(
    live_server: Any, raw: str, path: str, template: str, status: int
) -> None:
    r = requests.post(
        live_server.url + path,
        data=template % raw,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert r.status_code == status
    assert "temperature" in r.text and "finite" in r.text
