"""Shared fixtures: the conformance vectors and a live embedded server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def load_vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "sse-vectors.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="session")
def live_server() -> Iterator[Any]:
    """The embedded server on 127.0.0.1 (random port), fast enough for tests."""
    from nbchat.server import serve

    with serve(tokens_per_second=0) as server:
        yield server
