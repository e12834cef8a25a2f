"""Chat-level conformance: each vector served byte for byte by a real server, both APIs."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

import nbchat
from tests.conftest import load_vectors
from tests.scripted import Script, ScriptedServer

VECTORS = load_vectors()["chat_level"]


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.stop()


def _script(v: dict[str, Any], piece: int = 0) -> Script:
    r = v["response"]
    return Script(
        status=r["status"],
        content_type=r["content_type"],
        headers=r.get("headers") or {},
        body=base64.b64decode(r["body_b64"]),
        framing=r["framing"],
        truncate_after=r.get("truncate_after_bytes"),
        piece=piece,
    )


def _run(scripted: ScriptedServer, v: dict[str, Any], piece: int) -> tuple[Any, Any, int]:
    scripted.scripts.clear()
    before = len(scripted.requests)
    scripted.push(_script(v, piece))
    base = scripted.url + ("/v1" if v["api"] == "openai" else "/egp/v1")
    client = nbchat.Client(base_url=base, api_key="k", api=v["api"], max_retries=2)
    stream = client.stream([{"role": "user", "content": "Hi"}], model="demo-model")
    error: Exception | None = None
    try:
        with stream:
            for _ in stream:
                pass
    except nbchat.APIError as exc:
        error = exc
    made = len(scripted.requests) - before
    assert scripted.requests[-1]["path"] == v["request"]["path"]
    assert scripted.requests[-1]["json"]["stream"] is True
    return stream.reply, error, made


@pytest.mark.parametrize("piece", [0, 1, 7], ids=["whole", "byte", "seven"])
@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_chat_vector(scripted: ScriptedServer, vector: dict[str, Any], piece: int) -> None:
    exp = vector["expected"]
    reply, error, made = _run(scripted, vector, piece)
    assert reply is not None
    assert reply.content == exp["text"]
    assert reply.status == exp["status"]
    if "finish_reason" in exp:
        assert reply.finish_reason == exp["finish_reason"]
    if "usage" in exp:
        assert reply.usage is not None
        assert reply.usage.to_dict() == exp["usage"]
    if "error_contains" in exp:
        assert error is not None
        assert exp["error_contains"] in error.message.lower()
        assert exp["error_contains"] in (reply.error or "").lower()
    if exp["status"] == "complete":
        assert error is None
    else:
        assert isinstance(error, nbchat.APIError)
    if isinstance(error, nbchat.StreamError):
        assert error.partial == exp["text"]
    if "requests" in exp:
        assert made == exp["requests"]
