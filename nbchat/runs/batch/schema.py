"""Structured output: a pydantic model or a JSON Schema dict -> request fields, validation and
typed columns.

* OpenAI-compatible servers get ``response_format: {"type": "json_schema", ...}`` through the
  request's ``extra`` (``strict`` only when the schema already meets OpenAI's strict rules:
  every object closed with ``additionalProperties: false`` and every property required).
* EGP has no such field; the schema goes into the system prompt (:meth:`OutputSchema.instructions`),
  which is what EGP's ``instructions`` are.
* A reply is parsed as JSON (a Markdown code fence around it is tolerated) and validated with
  pydantic (a model) or ``jsonschema`` (a dict). Each top-level property becomes a column typed
  from the schema: ``integer`` -> Int64, ``number`` -> float64, ``boolean`` -> boolean,
  ``string`` -> string, anything else -> object. A property named like one of the result's own
  columns gets the prefix ``field_``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nbchat._exceptions import ConfigError

__all__ = ["OutputSchema", "resolve_schema"]

_NAME_RE = re.compile(r"[^a-zA-Z0-9_-]+")
_FENCE_RE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)
_DTYPES = {"integer": "Int64", "number": "float64", "boolean": "boolean", "string": "string"}


@dataclass(frozen=True)
class Column:
    prop: str
    name: str
    dtype: str


@dataclass(frozen=True, eq=False)
class OutputSchema:
    """A resolved ``schema=``: the JSON Schema, its validator and its columns."""

    json_schema: dict[str, Any]
    name: str
    model: Any = None  # a pydantic BaseModel subclass, or None for a dict schema

    def response_format(self) -> dict[str, Any]:
        """OpenAI's structured-output request field."""
        spec: dict[str, Any] = {"name": self.name, "schema": self.json_schema}
        if _strict_ok(self.json_schema):
            spec["strict"] = True
        return {"type": "json_schema", "json_schema": spec}

    def instructions(self) -> str:
        """The system-prompt text that asks for the schema (EGP)."""
        text = json.dumps(self.json_schema, ensure_ascii=False, separators=(",", ":"))
        return (
            "Answer with a single JSON object and nothing else (no prose, no code fence). "
            f"It must match this JSON Schema:\n```json\n{text}\n```"
        )

    def columns(self, taken: frozenset[str]) -> list[Column]:
        props = self.json_schema.get("properties")
        if not isinstance(props, Mapping):
            return []
        out = []
        for prop, spec in props.items():
            name = f"field_{prop}" if prop in taken else str(prop)
            kind = _json_type(spec, self.json_schema) or ""
            out.append(Column(str(prop), name, _DTYPES.get(kind, "object")))
        return out

    def validate(self, text: str) -> tuple[dict[str, Any] | None, str | None]:
        """(the top-level values, None) or (None, what is wrong)."""
        match = _FENCE_RE.match(text)
        body = match.group(1) if match else text
        try:
            obj = json.loads(body)
        except ValueError as exc:
            return None, f"the reply is not JSON: {exc}"
        if self.model is not None:
            try:
                value = self.model.model_validate(obj)
            except Exception as exc:  # pydantic.ValidationError
                return None, _short(str(exc))
            return {k: getattr(value, k) for k in type(value).model_fields}, None
        import jsonschema

        validator_cls = jsonschema.validators.validator_for(self.json_schema)
        errors = list(validator_cls(self.json_schema).iter_errors(obj))
        if errors:
            best = jsonschema.exceptions.best_match(errors)
            where = "/".join(str(p) for p in best.absolute_path) or "(root)"
            return None, _short(f"{where}: {best.message}")
        return (dict(obj) if isinstance(obj, dict) else {"value": obj}), None


def resolve_schema(schema: Any) -> OutputSchema | None:
    """``schema=`` as given (None, a pydantic model class or a JSON Schema dict), resolved."""
    if schema is None:
        return None
    if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
        js = schema.model_json_schema()
        return OutputSchema(js, _name(js.get("title") or schema.__name__), schema)
    if isinstance(schema, Mapping):
        js = json.loads(json.dumps(schema))  # a plain, JSON-able copy
        try:
            import jsonschema
        except ImportError:
            raise ImportError(
                "schema= as a JSON Schema dict needs the jsonschema package "
                "(pip install jsonschema), or pass a pydantic model"
            ) from None
        try:
            jsonschema.validators.validator_for(js).check_schema(js)
        except jsonschema.exceptions.SchemaError as exc:
            raise ConfigError(f"schema= is not a valid JSON Schema: {exc.message}") from None
        return OutputSchema(js, _name(str(js.get("title") or "row")))
    raise ConfigError(
        f"schema= takes a pydantic model class or a JSON Schema dict, not {type(schema).__name__}"
    )


def _name(text: str) -> str:
    return _NAME_RE.sub("_", text)[:64] or "row"


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(spec: Any, root: Mapping[str, Any]) -> str | None:
    """The JSON type of a property (null aside), following ``$ref`` and ``anyOf``."""
    if not isinstance(spec, Mapping):
        return None
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, Mapping) else None
        return _json_type(node, root)
    kind = spec.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if isinstance(kind, str):
        return str(kind)
    for key in ("anyOf", "oneOf"):
        options = spec.get(key)
        if isinstance(options, list):
            found = {_json_type(o, root) for o in options} - {"null"}
            if len(found) == 1:
                return found.pop()
            if found == {"integer", "number"}:
                return "number"
    values = spec.get("enum")
    if isinstance(values, list) and values:
        if all(isinstance(v, str) for v in values):
            return "string"
        if all(isinstance(v, bool) for v in values):
            return "boolean"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "integer"
    if "const" in spec:
        return _json_type({"enum": [spec["const"]]}, root)
    return None


def _strict_ok(spec: Any) -> bool:
    """Whether OpenAI's strict mode accepts the schema as it is (closed objects, all required)."""
    if isinstance(spec, list):
        return all(_strict_ok(s) for s in spec)
    if not isinstance(spec, Mapping):
        return True
    if spec.get("type") == "object" or "properties" in spec:
        props = spec.get("properties") or {}
        if spec.get("additionalProperties") is not False:
            return False
        if set(spec.get("required") or ()) != set(props):
            return False
    return all(_strict_ok(v) for k, v in spec.items() if isinstance(v, (Mapping, list)))
