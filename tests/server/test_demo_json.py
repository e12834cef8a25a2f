"""The demo model's JSON answers for structured-output requests (nbchat.server.demo_json)."""

from __future__ import annotations

import json
from typing import Any

import requests

from nbchat.server import Server
from nbchat.server.demo_json import answer, schema_in
from nbchat.server.demo_model import generate

SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"enum": ["positive", "negative", "neutral"]},
        "topic": {"type": "string"},
        "summary": {"type": "string"},
        "score": {"type": "number"},
        "words": {"type": "integer"},
        "question": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "nested": {"$ref": "#/$defs/Inner"},
    },
    "$defs": {"Inner": {"type": "object", "properties": {"ok": {"type": "boolean"}}}},
}


def test_answers_match_the_schema_and_are_deterministic() -> None:
    text = answer(SCHEMA, "I love how streaming works?", "streaming", "Streaming sends pieces.")
    value: dict[str, Any] = json.loads(text)
    assert value["sentiment"] == "positive" and value["topic"] == "streaming"
    assert value["summary"] == "Streaming sends pieces."
    assert 0.5 <= value["score"] < 1 and value["words"] == 5 and value["question"] is True
    assert isinstance(value["tags"], list) and isinstance(value["maybe"], int)
    assert value["nested"] == {"ok": True}
    assert text == answer(
        SCHEMA, "I love how streaming works?", "streaming", "Streaming sends pieces."
    )


def test_a_schema_in_the_system_prompt_is_found() -> None:
    system = (
        "Be brief.\n\nIt must match this JSON Schema:\n```json\n" + json.dumps(SCHEMA) + "\n```"
    )
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": "Tokens are bad"}]
    assert schema_in(msgs) == SCHEMA
    reply = generate(msgs)
    assert json.loads(reply.text)["sentiment"] == "negative"
    assert schema_in([{"role": "user", "content": system}]) is None  # only system messages


def test_openai_response_format_gets_json(server: Server) -> None:
    body = {
        "model": "demo",
        "messages": [{"role": "user", "content": "What is a token?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}},
    }
    resp = requests.post(server.openai_url, json=body, timeout=10)
    content = resp.json()["choices"][0]["message"]["content"]
    assert json.loads(content)["topic"] == "tokens"
    plain = requests.post(server.openai_url, json={**body, "response_format": None}, timeout=10)
    assert not plain.json()["choices"][0]["message"]["content"].startswith("{")
