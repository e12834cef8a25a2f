"""Shared fixtures: the conformance vectors and a live embedded server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    """Every panel stores its conversations (``nbchat.data.store``): no test may write to the
    real user store. Processes the tests start (kernels, Jupyter servers) inherit this path;
    each test also gets a file of its own (``_private_store``)."""
    os.environ["NBCHAT_STORE"] = str(Path(tempfile.mkdtemp(prefix="nbchat-store-")) / "store.db")


@pytest.fixture(autouse=True)
def _private_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A store file of this test's own (``NBCHAT_STORE``)."""
    path = tmp_path_factory.mktemp("store") / "store.db"
    monkeypatch.setenv("NBCHAT_STORE", str(path))
    return path


def load_vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "sse-vectors.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="session")
def live_server() -> Iterator[Any]:
    """The embedded server on 127.0.0.1 (random port), fast enough for tests."""
    from nbchat.server import serve

    with serve(tokens_per_second=0) as server:
        yield server
