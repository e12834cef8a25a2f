"""prompt= over the rows: format strings, callables, message columns, skips and mistakes."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from nbchat import ConfigError
from nbchat.runs.batch.prompts import as_frame, build_prompts


def test_format_string_over_columns_with_system_first() -> None:
    df = pd.DataFrame({"text": ["a", "b"], "lang": ["en", "fr"]})
    p = build_prompts(df, "Say {text} in {lang}", system="Be brief.")
    assert p.messages[1] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say b in fr"},
    ]
    assert p.skip == [None, None]


def test_a_missing_field_skips_the_row_instead_of_sending_nan() -> None:
    df = pd.DataFrame({"text": ["a", None, math.nan], "x": [1, 2, 3]})
    p = build_prompts(df, "{text}!")
    assert p.messages[0] == [{"role": "user", "content": "a!"}]
    assert p.messages[1] is None and p.messages[2] is None
    assert "'text' is missing" in (p.skip[1] or "")


def test_callable_gets_a_dict_and_may_return_messages_or_none() -> None:
    df = pd.DataFrame({"text": ["a", "b", "c"]})

    def prompt(row: dict[str, object]) -> object:
        if row["text"] == "b":
            return None
        if row["text"] == "c":
            return [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        return f"<{row['text']}>"

    p = build_prompts(df, prompt)
    assert p.messages[0] == [{"role": "user", "content": "<a>"}]
    assert p.messages[1] is None and p.skip[1] == "the prompt callable returned None"
    assert len(p.messages[2] or []) == 2


def test_a_column_of_message_lists() -> None:
    df = pd.DataFrame(
        {"conv": [[{"role": "user", "content": "x"}], "plain text", None, []]},
    )
    p = build_prompts(df, "conv", system="S")
    assert p.messages[0] == [{"role": "system", "content": "S"}, {"role": "user", "content": "x"}]
    assert p.messages[1] == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "plain text"},
    ]
    assert p.messages[2] is None and p.messages[3] is None


@pytest.mark.parametrize(
    ("prompt", "needle"),
    [
        ("{nope}", "lacks"),
        ("Same prompt for everyone", "same prompt"),
        ("{}", "name columns"),
        ("{0}", "name columns"),
        ("{text", "format string"),
    ],
)
def test_mistakes_fail_before_any_request(prompt: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        build_prompts(pd.DataFrame({"text": ["a"]}), prompt)


def test_a_callable_that_raises_names_the_row() -> None:
    df = pd.DataFrame({"text": ["a"]}, index=["row-7"])
    with pytest.raises(ConfigError, match="row-7"):
        build_prompts(df, lambda row: row["missing"])


def test_a_malformed_message_names_the_row() -> None:
    df = pd.DataFrame({"conv": [[{"role": "user"}]]}, index=["r1"])
    with pytest.raises(ConfigError, match="r1"):
        build_prompts(df, "conv")


def test_data_shapes() -> None:
    assert list(as_frame(["a", "b"])["text"]) == ["a", "b"]
    assert list(as_frame(pd.Series(["a"], name="body")).columns) == ["body"]
    with pytest.raises(ConfigError):
        as_frame({"a": 1})
    with pytest.raises(ConfigError):
        as_frame([1, 2])
