"""The records own the shapes: the front end's types and the panel's vocabulary are checked
against ``nbchat.records`` field by field."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest

from nbchat.panel.vocabulary import ChatMessage
from nbchat.records import MESSAGE_FIELDS, PARAM_NAMES, PARAMS, Message

TYPES = Path(__file__).parents[1] / "js" / "src" / "types.d.ts"
TS_TYPE = {"float": "number | null", "int": "number | null", "list[str]": "string[] | null"}


def ts_interface(name: str) -> dict[str, str]:
    """``{field: type}`` of ``export interface <name> { ... }`` in types.d.ts, in order."""
    text = TYPES.read_text("utf-8")
    m = re.search(rf"^export interface {name} \{{\n(.*?)^\}}", text, re.S | re.M)
    assert m, f"interface {name} not found in {TYPES}"
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", m.group(1), flags=re.S)
    return {
        f.group(1): f.group(2).strip() for f in re.finditer(r"^\s*(\w+)\??:\s*([^;]+);", body, re.M)
    }


def test_message_fields_equal_the_ts_chat_message() -> None:
    ts = ts_interface("ChatMessage")
    assert tuple(ts) == MESSAGE_FIELDS
    hints = typing.get_type_hints(Message)
    for f in dataclasses.fields(Message):
        nullable = type(None) in typing.get_args(hints[f.name])
        assert ("null" in ts[f.name]) == nullable, (f.name, ts[f.name])


def test_params_equal_the_ts_params() -> None:
    ts = ts_interface("Params")
    assert tuple(ts) == PARAM_NAMES
    for name, param in PARAMS.items():
        assert ts[name] == TS_TYPE[param.kind], name


def test_the_vocabulary_chat_message_is_the_record() -> None:
    assert tuple(ChatMessage.__annotations__) == MESSAGE_FIELDS


@pytest.mark.parametrize("name", PARAM_NAMES)
def test_every_param_is_a_history_column(name: str) -> None:
    from nbchat.data.frames import HIDDEN_FIELDS, HISTORY_COLUMNS, RENAMED

    assert name in HISTORY_COLUMNS
    for field in MESSAGE_FIELDS:
        column = RENAMED.get(field, field)
        assert column in HISTORY_COLUMNS or field in HIDDEN_FIELDS or field in ("params", "usage")
