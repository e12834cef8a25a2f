"""Fixtures for the embedded server tests: a real server on 127.0.0.1 and small clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from nbchat.server import Server, serve

EGP = "/egp/v1/chat-completions"
OPENAI = "/v1/chat/completions"
USER_TOKEN = [{"role": "user", "content": "What is a token?"}]


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """The embedded server without streaming delay."""
    with serve(tokens_per_second=0) as running:
        yield running


@pytest.fixture(scope="session")
def keyed_server() -> Iterator[Server]:
    """The embedded server requiring the API key ``s3cret-key``."""
    with serve(api_key="s3cret-key", tokens_per_second=0) as running:
        yield running


def post(server: Server, path: str, body: Any, **kwargs: Any) -> requests.Response:
    """POST a JSON body (or raw bytes, declared as JSON unless headers say otherwise)."""
    if isinstance(body, bytes | Iterator):
        headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
        return requests.post(server.url + path, data=body, timeout=10, headers=headers, **kwargs)
    return requests.post(server.url + path, json=body, timeout=10, **kwargs)


def sse_payloads(response: requests.Response) -> list[str]:
    """Return the raw ``data:`` payloads of a stream (simple line parser for tests)."""
    return [
        line[len("data: ") :]
        for line in response.iter_lines(decode_unicode=True)
        if line.startswith("data: ")
    ]


def egp_stream_text(response: requests.Response) -> tuple[str, list[dict[str, Any]]]:
    """Assemble an EGP stream: the text and the decoded events."""
    events = [json.loads(p) for p in sse_payloads(response)]
    text = "".join(e["chat_completion"]["message"]["content"] for e in events)
    return text, events


def openai_stream_text(response: requests.Response) -> tuple[str, list[Any]]:
    """Assemble an OpenAI stream: the text and the decoded chunks (``"[DONE]"`` kept)."""
    chunks: list[Any] = [p if p == "[DONE]" else json.loads(p) for p in sse_payloads(response)]
    text = "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in chunks
        if c != "[DONE]" and c["choices"]
    )
    return text, chunks
