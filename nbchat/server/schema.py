"""Validate request bodies of both APIs into one `ChatRequest`.

Errors are collected as `FieldError` items (a location path, a message and a
type), which the app renders as an EGP 422 ``detail`` list or an OpenAI 400
``invalid_request_error``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChatRequest", "FieldError", "RequestInvalid", "parse_egp", "parse_json", "parse_openai"]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldError:
    """One validation problem.

    Attributes
    ----------
    loc : tuple
        Path into the body, e.g. ``("messages", 0, "content")``.
    msg : str
        Human-readable message.
    type : str
        FastAPI-style error type, e.g. ``"type_error.str"``.
    """

    loc: Loc
    msg: str
    type: str


class RequestInvalid(Exception):
    """Raised with the list of `FieldError` items of an invalid body."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{_dotted(e.loc)}: {e.msg}" for e in errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat request, independent of the wire format.

    Attributes
    ----------
    model : str
        The model string as sent (options included).
    messages : list of dict
        ``{"role": str, "content": str | None}`` items; an EGP ``instructions``
        string becomes a leading system message.
    stream : bool
        Whether to stream.
    max_tokens : int or None
        Completion token cap.
    stop : tuple of str
        Stop sequences.
    include_usage : bool
        OpenAI ``stream_options.include_usage``.
    """

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    max_tokens: int | None = None
    stop: tuple[str, ...] = field(default=())
    include_usage: bool = False
    json_schema: dict[str, Any] | None = None


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "body"


def parse_json(raw: bytes) -> dict[str, Any]:
    """Decode a JSON object body.

    Raises
    ------
    RequestInvalid
        If the body is not valid UTF-8 JSON or not an object.
    """
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: nesting deeper than the parser's stack, still the client's fault.
        raise RequestInvalid(
            [FieldError((), f"invalid JSON: {exc}", "value_error.jsondecode")]
        ) from None
    if not isinstance(body, dict):
        raise RequestInvalid([FieldError((), "the body must be a JSON object", "type_error.dict")])
    bad = _unencodable(body)
    if bad is not None:
        loc, text = bad
        raise RequestInvalid([FieldError(loc, _surrogate_message(text), "value_error.unicode")])
    return body


def _surrogate_message(text: str) -> str:
    for char in text:
        if "\ud800" <= char <= "\udfff":
            return (
                f"text contains a lone surrogate (U+{ord(char):04X}), which is not valid "
                "Unicode and cannot be encoded as UTF-8; send well-formed text"
            )
    return "text cannot be encoded as UTF-8"  # pragma: no cover - surrogates are the only case


def _unencodable(body: dict[str, Any]) -> tuple[Loc, str] | None:
    """The location and text of the first string (or key) that UTF-8 cannot encode.

    JSON escapes such as ``"\\ud800"`` decode to lone surrogates; every reply is sent as
    UTF-8, so such text would fail later as a server error. Walked without recursion:
    `json.loads` already bounds the depth.
    """
    stack: list[tuple[Loc, Any]] = [((), body)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return loc, value
        elif isinstance(value, dict):
            for key, item in value.items():
                try:
                    key.encode("utf-8")
                except UnicodeEncodeError:
                    return loc, key
                stack.append(((*loc, key), item))
        elif isinstance(value, list):
            stack.extend(reversed([((*loc, i), item) for i, item in enumerate(value)]))
    return None


class _Checker:
    """Collects errors while reading typed fields."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, loc: Loc, msg: str, kind: str) -> None:
        self.errors.append(FieldError(loc, msg, kind))

    def string(self, obj: dict[str, Any], key: str, loc: Loc, required: bool = False) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail((*loc, key), "field required", "value_error.missing")
            return None
        if not isinstance(value, str):
            self.fail((*loc, key), "str type expected", "type_error.str")
            return None
        return value

    def boolean(self, obj: dict[str, Any], key: str, loc: Loc) -> bool:
        value = obj.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.fail((*loc, key), "value could not be parsed to a boolean", "type_error.bool")
            return False
        return value

    def number(self, obj: dict[str, Any], key: str, loc: Loc) -> None:
        value = obj.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            self.fail((*loc, key), "value is not a valid number", "type_error.float")
        elif isinstance(value, float) and not math.isfinite(value):
            # json.loads accepts NaN, Infinity and 1e400; no sampling parameter can be one.
            self.fail((*loc, key), "value is not a finite number", "value_error.number.not_finite")

    def positive_int(self, obj: dict[str, Any], key: str, loc: Loc) -> int | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail((*loc, key), "value is not a positive integer", "type_error.integer")
            return None
        return value

    def stop(self, obj: dict[str, Any], key: str, loc: Loc, allow_str: bool) -> tuple[str, ...]:
        value = obj.get(key)
        if value is None:
            return ()
        if allow_str and isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(s, str) for s in value):
            return tuple(value)
        expected = "a string or a list of strings" if allow_str else "a list of strings"
        self.fail((*loc, key), f"value must be {expected}", "type_error.list")
        return ()

    def obj(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        value = body.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail((key,), "value is not a valid dict", "type_error.dict")
            return {}
        return value

    def messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        value = body.get("messages")
        if value is None:
            self.fail(("messages",), "field required", "value_error.missing")
            return []
        if not isinstance(value, list) or not value:
            self.fail(("messages",), "value must be a non-empty list", "type_error.list")
            return []
        result: list[dict[str, Any]] = []
        for index, item in enumerate(value):
            loc: Loc = ("messages", index)
            if not isinstance(item, dict):
                self.fail(loc, "value is not a valid dict", "type_error.dict")
                continue
            role = self.string(item, "role", loc, required=True)
            content = item.get("content")
            if content is not None and not isinstance(content, str):
                self.fail((*loc, "content"), "str type expected", "type_error.str")
            elif role is not None:
                result.append({"role": role, "content": content})
        return result

    def done(self) -> None:
        if self.errors:
            raise RequestInvalid(self.errors)


def parse_egp(body: dict[str, Any]) -> ChatRequest:
    """Validate an EGP request body.

    Parameters
    ----------
    body : dict
        ``{"model", "messages", "stream"?, "model_parameters"?, "instructions"?}``.

    Returns
    -------
    ChatRequest
        The normalized request.

    Raises
    ------
    RequestInvalid
        With every problem found.
    """
    check = _Checker()
    model = check.string(body, "model", (), required=True)
    messages = check.messages(body)
    stream = check.boolean(body, "stream", ())
    instructions = check.string(body, "instructions", ())
    params = check.obj(body, "model_parameters")
    loc: Loc = ("model_parameters",)
    for key in ("temperature", "topP", "top_p"):
        check.number(params, key, loc)
    top_k = params.get("topK")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)):
        check.fail((*loc, "topK"), "value is not a valid integer", "type_error.integer")
    max_tokens = check.positive_int(params, "max_tokens", loc)
    stop = check.stop(params, "stop_sequences", loc, allow_str=False)
    check.done()
    if instructions:
        messages = [{"role": "system", "content": instructions}, *messages]
    return ChatRequest(str(model), messages, stream, max_tokens, stop)


def parse_openai(body: dict[str, Any]) -> ChatRequest:
    """Validate an OpenAI chat-completions request body.

    Parameters
    ----------
    body : dict
        ``{"model", "messages", "stream"?, "stream_options"?, "temperature"?,
        "max_tokens" | "max_completion_tokens"?, "stop"?, "top_p"?}``.

    Returns
    -------
    ChatRequest
        The normalized request.

    Raises
    ------
    RequestInvalid
        With every problem found.
    """
    check = _Checker()
    model = check.string(body, "model", (), required=True)
    messages = check.messages(body)
    stream = check.boolean(body, "stream", ())
    for key in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        check.number(body, key, ())
    max_tokens = check.positive_int(body, "max_tokens", ())
    max_completion = check.positive_int(body, "max_completion_tokens", ())
    stop = check.stop(body, "stop", (), allow_str=True)
    options = check.obj(body, "stream_options")
    include_usage = check.boolean(options, "include_usage", ("stream_options",))
    json_schema = _response_schema(check.obj(body, "response_format"))
    check.done()
    limit = max_completion if max_completion is not None else max_tokens
    return ChatRequest(str(model), messages, stream, limit, stop, include_usage, json_schema)


def _response_schema(fmt: dict[str, Any]) -> dict[str, Any] | None:
    """The schema an OpenAI ``response_format`` asks for (any object for ``json_object``)."""
    if fmt.get("type") == "json_object":
        return {"type": "object"}
    spec = fmt.get("json_schema") if fmt.get("type") == "json_schema" else None
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return schema if isinstance(schema, dict) else None


def openai_param(loc: Loc) -> str:
    """Render a location as an OpenAI ``param`` string, e.g. ``messages[0].content``."""
    return _dotted(loc)
