"""The demo model's JSON answers, for structured-output requests (``nbchat.batch(schema=...)``).

A request asks for JSON in one of two ways: OpenAI's ``response_format`` (``json_schema``, or
``json_object`` for any object), or a system prompt that says "JSON Schema" and carries the
schema in a fenced ``json`` block (how nbchat asks an EGP server, which has no such field).
The answer is one JSON object that matches the schema, made deterministically from the last
user message, like every demo reply:

* an ``enum`` of strings: the value named in the message or in its demo topic; ``positive`` /
  ``negative`` / ``neutral`` by a small word list; else one chosen by a hash of the message;
* a string: the demo topic's name for ``topic``/``category``/``label``/``subject``, its
  one-sentence summary for names with ``summar``/``descri``/``answer``, else the message
  quoted (at most 60 characters);
* an integer: the number of words; a number: a "confidence" in [0.5, 1) from a hash; a
  boolean: whether the message asks a question; an array: one item; an object: recursively.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["answer", "schema_in"]

_FENCED = re.compile(r"JSON Schema.*?```json\s*\n(.*?)\n\s*```", re.DOTALL | re.IGNORECASE)
_POSITIVE = frozenset(
    {
        "love",
        "loved",
        "great",
        "excellent",
        "good",
        "amazing",
        "happy",
        "perfect",
        "fantastic",
        "recommend",
        "best",
        "wonderful",
        "delighted",
        "nice",
        "fast",
        "easy",
        "helpful",
    }
)
_NEGATIVE = frozenset(
    {
        "hate",
        "hated",
        "terrible",
        "awful",
        "bad",
        "broken",
        "worst",
        "poor",
        "disappointed",
        "disappointing",
        "refund",
        "slow",
        "useless",
        "never",
        "crashes",
        "crashed",
        "rude",
        "late",
    }
)
_LABEL_NAMES = ("topic", "category", "label", "subject", "class", "kind")
_SUMMARY_NAMES = ("summar", "descri", "answer", "explan", "reason")


def schema_in(messages: Sequence[Mapping[str, object]]) -> dict[str, Any] | None:
    """The JSON Schema a system message asks for, or None."""
    for message in messages:
        if message.get("role") not in ("system", "developer"):
            continue
        content = message.get("content")
        if not isinstance(content, str):
            continue
        match = _FENCED.search(content)
        if match:
            try:
                found = json.loads(match.group(1))
            except ValueError:
                return None
            return found if isinstance(found, dict) else None
    return None


def answer(schema: Mapping[str, Any], question: str, topic: str, summary: str) -> str:
    """A JSON object matching ``schema`` for ``question`` (the last user message), whose
    demo topic is ``topic`` with its one-sentence ``summary``."""
    value = _value(schema, schema, "", (question, topic, summary), 0)
    if not isinstance(value, dict):
        value = {"answer": value}
    return json.dumps(value, ensure_ascii=False)


def _resolve(spec: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(spec, Mapping):
        return {}
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, Mapping) else None
        return _resolve(node, root)
    for key in ("anyOf", "oneOf", "allOf"):
        options = spec.get(key)
        if isinstance(options, list):
            for option in options:
                resolved = _resolve(option, root)
                if resolved.get("type") != "null":
                    return resolved
    return spec


def _type(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in spec:
        return "object"
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return "enum"
    return "string"


def _unit(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8", "replace")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _value(
    spec: Any, root: Mapping[str, Any], name: str, about: tuple[str, str, str], depth: int
) -> Any:
    question, topic, summary = about
    spec = _resolve(spec, root)
    if depth > 8:
        return None
    if "const" in spec:
        return spec["const"]
    values = spec.get("enum")
    if isinstance(values, list) and values:
        return _choose(values, question, topic)
    kind = _type(spec)
    if kind == "object":
        props = spec.get("properties")
        if not isinstance(props, Mapping):
            return {}
        return {str(k): _value(v, root, str(k), about, depth + 1) for k, v in props.items()}
    if kind == "array":
        return [_value(spec.get("items") or {}, root, name, about, depth + 1)]
    if kind == "integer":
        return len(question.split())
    if kind == "number":
        return round(0.5 + 0.49 * _unit(question), 2)
    if kind == "boolean":
        return "?" in question
    if kind == "null":
        return None
    lowered = name.lower()
    if any(n in lowered for n in _LABEL_NAMES):
        return topic
    if any(n in lowered for n in _SUMMARY_NAMES):
        return summary
    flat = " ".join(question.split())
    return flat if len(flat) <= 60 else flat[:57].rstrip() + "..."


def _choose(values: list[Any], question: str, topic: str) -> Any:
    words = set(re.findall(r"[a-z']+", question.lower()))
    texts = [str(v).lower() for v in values]
    if {"positive", "negative"} <= set(texts):
        score = len(words & _POSITIVE) - len(words & _NEGATIVE)
        wanted = "positive" if score > 0 else "negative" if score < 0 else "neutral"
        if wanted in texts:
            return values[texts.index(wanted)]
    topic = topic.lower()
    lowered = question.lower()
    for value, text in zip(values, texts, strict=True):
        if text and (text in lowered or text in topic):
            return value
    return values[int(_unit(question) * len(values))]
