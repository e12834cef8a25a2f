"""Fixtures for the batch tests: a fresh embedded server per test (its request counts are the
test's), clients for both APIs, and a small frame of questions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import nbchat
from nbchat.server import Server, serve

QUESTIONS = [
    "What is a token?",
    "How does streaming work?",
    "What does temperature do?",
    "Why does the prompt grow?",
    "What is a system prompt?",
    "Hello there",
]


@pytest.fixture
def server() -> Iterator[Server]:
    with serve(tokens_per_second=0) as running:
        yield running


@pytest.fixture
def egp(server: Server) -> Iterator[nbchat.Client]:
    with nbchat.Client(base_url=server.url + "/egp/v1", api="egp") as client:
        yield client


@pytest.fixture
def openai_client(server: Server) -> Iterator[nbchat.Client]:
    with nbchat.Client(base_url=server.url + "/v1", api="openai") as client:
        yield client


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"text": QUESTIONS, "n": range(len(QUESTIONS))},
        index=pd.Index([f"q{i}" for i in range(len(QUESTIONS))], name="id"),
    )


def chat_requests(server: Server) -> list[dict[str, Any]]:
    """The chat requests the server answered."""
    return [r for r in server.requests if r["path"].endswith(("chat-completions", "completions"))]
