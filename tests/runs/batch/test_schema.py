"""schema=: OpenAI gets response_format, EGP the schema in the system prompt; typed columns;
replies that fail validation are ``invalid``; the demo server answers JSON for both."""

from __future__ import annotations

import json
from typing import Literal

import pandas as pd
import pytest
from pydantic import BaseModel

import nbchat
from nbchat.runs.batch.schema import resolve_schema
from nbchat.server import Server


class Label(BaseModel):
    topic: str
    sentiment: Literal["positive", "negative", "neutral"]
    confidence: float
    words: int
    question: bool


REVIEWS = ["I love how streaming works!", "Tokens are terrible and slow.", "What is temperature?"]


@pytest.mark.parametrize("api", ["egp", "openai"])
def test_typed_columns_from_a_pydantic_model(server: Server, api: str) -> None:
    base = server.url + ("/v1" if api == "openai" else "/egp/v1")
    with nbchat.Client(base_url=base, api=api) as client:
        out = nbchat.batch(REVIEWS, "{text}", model="demo", client=client, schema=Label,
                           progress=False)  # fmt: skip
        plan = nbchat.batch(REVIEWS, "{text}", model="demo", client=client, schema=Label,
                            dry_run=True)  # fmt: skip
    assert (out["status"] == "complete").all()
    assert list(out["sentiment"]) == ["positive", "negative", "neutral"]
    assert list(out["topic"]) == ["streaming", "tokens", "temperature"]
    assert list(out["question"]) == [False, False, True]
    assert str(out["words"].dtype) == "Int64" and out["confidence"].dtype == "float64"
    assert str(out["question"].dtype) == "boolean" and str(out["topic"].dtype) == "string"
    system = plan.loc[0, "messages"][0]
    if api == "egp":  # the schema rides in the instructions
        assert system["role"] == "system" and "JSON Schema" in system["content"]
    else:  # response_format, not the prompt
        assert system["role"] == "user"
    stats = nbchat.batch_stats(out)
    assert stats.validation_failure_rate == 0.0


def test_response_format_is_in_the_openai_request(openai_client: nbchat.Client) -> None:
    from nbchat.runs.batch.plan import make_plan

    plan = make_plan(["x"], "{text}", "demo", openai_client, None, Label, {})
    body = plan.requests[0].payload  # type: ignore[union-attr]
    assert body["response_format"]["type"] == "json_schema"
    spec = body["response_format"]["json_schema"]
    assert spec["name"] == "Label" and spec["schema"]["properties"]["words"]["type"] == "integer"
    assert "strict" not in spec  # pydantic's schema is not closed: strict would be refused


def test_a_closed_schema_is_sent_strict() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    resolved = resolve_schema(schema)
    assert resolved is not None
    assert resolved.response_format()["json_schema"]["strict"] is True


def test_invalid_replies_with_a_dict_schema(server: Server, egp: nbchat.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "name": {"type": ["string", "null"]}},
        "required": ["n"],
    }
    texts = ['{"n": 3, "name": "x"}', '{"n": "three"}', "no json", '```json\n{"n": 4}\n```']
    out = nbchat.batch(texts, "{text}", model="echo", client=egp, schema=schema, progress=False)
    assert list(out["status"]) == ["complete", "invalid", "invalid", "complete"]
    assert out.loc[0, "n"] == 3 and out.loc[3, "n"] == 4 and pd.isna(out.loc[1, "n"])
    assert "n" in out.loc[1, "error"] and "not JSON" in out.loc[2, "error"]
    assert str(out["n"].dtype) == "Int64" and str(out["name"].dtype) == "string"
    stats = nbchat.batch_stats(out)
    assert stats.validation_failure_rate == 0.5 and stats.errors_by_kind == {"invalid": 2}


def test_a_field_named_like_a_result_column_is_prefixed(egp: nbchat.Client) -> None:
    schema = {"type": "object", "properties": {"status": {"type": "string"}}}
    out = nbchat.batch(['{"status": "ok"}'], "{text}", model="echo", client=egp, schema=schema,
                       progress=False)  # fmt: skip
    assert out.loc[0, "status"] == "complete" and out.loc[0, "field_status"] == "ok"


def test_bad_schemas_are_refused() -> None:
    with pytest.raises(nbchat.ConfigError):
        resolve_schema({"type": 12})
    with pytest.raises(nbchat.ConfigError):
        resolve_schema("not a schema")


def test_on_error_raise_on_an_invalid_reply(egp: nbchat.Client) -> None:
    with pytest.raises(ValueError, match="does not match schema"):
        nbchat.batch(["nope"], "{text}", model="echo", client=egp, schema=Label,
                     on_error="raise", progress=False)  # fmt: skip


def test_the_demo_answers_json_object_too(openai_client: nbchat.Client) -> None:
    reply = openai_client.complete(
        [{"role": "user", "content": "hi"}],
        "demo",
        extra={"response_format": {"type": "json_object"}},
    )
    assert isinstance(json.loads(reply.content), dict)
