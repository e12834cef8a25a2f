"""``prompt=`` over the rows of ``data`` -> the messages of each row's request.

``data`` is a pandas DataFrame, a Series (one column named after it, else ``text``) or a list
of strings (one column ``text``, index 0..n-1). ``prompt`` is one of:

* a format string over the row's columns, ``"Summarise:\\n\\n{text}"`` (``str.format``; a
  field that is missing in a row (None, NaN, NA) skips that row rather than sending ``nan``);
* a callable ``row -> str | list[message] | None`` (``row`` is a dict of the row's columns;
  None skips the row);
* the name of a column holding message lists (a string value is one user message; None or
  an empty list skips the row).

A row that is skipped is never sent and gets status ``skipped`` with the reason. Mistakes that
would fail every row (an unknown column, a callable that raises, a malformed message) raise
:class:`~nbchat.ConfigError` before any request is sent.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from nbchat._exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Prompts", "as_frame", "build_prompts"]

Messages = list[dict[str, Any]]
#: The column a format field names: what comes before ``.attr`` or ``[key]``.
_BASE_RE = re.compile(r"[^.\[]+")


@dataclass
class Prompts:
    """Each row's messages (None when the row is skipped, with the reason in ``skip``)."""

    messages: list[Messages | None]
    skip: list[str | None]


def as_frame(data: Any) -> pd.DataFrame:
    """``data`` as a DataFrame (see the module docstring)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=data.name if isinstance(data.name, str) else "text")
    if isinstance(data, (list, tuple)):
        if not all(isinstance(s, str) or s is None for s in data):
            raise ConfigError("a list passed to batch() must hold strings (or use a DataFrame)")
        return pd.DataFrame({"text": pd.Series(list(data), dtype=object)})
    raise ConfigError(
        "batch() takes a pandas DataFrame, a Series, a list of strings or a Dask DataFrame, "
        f"not {type(data).__name__}"
    )


def build_prompts(
    frame: pd.DataFrame,
    prompt: str | Callable[[dict[str, Any]], Any],
    system: str | None = None,
    instructions: str | None = None,
) -> Prompts:
    """The messages of every row: ``system`` (plus ``instructions``) first, then the row's."""
    head: Messages = []
    sys_text = "\n\n".join(t for t in (system, instructions) if t)
    if sys_text:
        head = [{"role": "system", "content": sys_text}]
    if callable(prompt):
        return _from_callable(frame, prompt, head)
    if not isinstance(prompt, str):
        raise ConfigError(
            "prompt= takes a format string, a column name or a callable, "
            f"not {type(prompt).__name__}"
        )
    fields = _fields(prompt)
    if not fields and prompt in frame.columns:
        return _from_column(frame, prompt, head)
    if not fields:
        raise ConfigError(
            f"prompt {prompt[:60]!r} names no column ({{column}}) and is not a column name: "
            f"every row would send the same prompt. Columns: {list(frame.columns)[:20]}"
        )
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise ConfigError(
            f"prompt names column(s) {missing} that data lacks; columns: {list(frame.columns)[:20]}"
        )
    return _from_format(frame, prompt, fields, head)


def _fields(template: str) -> list[str]:
    """The column names a format string uses (``{a}``, ``{a[0]}``, ``{a.b}`` -> ``a``)."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"prompt is not a valid format string: {exc}") from None
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise ConfigError("prompt fields must name columns, e.g. {text}; not {} or {0}")
        first = _BASE_RE.match(field)
        name = first.group(0) if first else field
        if name not in names:
            names.append(name)
        if spec and "{" in spec:
            names.extend(n for n in _fields(spec) if n not in names)
    return names


def _from_format(frame: pd.DataFrame, template: str, fields: list[str], head: Messages) -> Prompts:
    sub = frame[fields]
    na = sub.isna().to_numpy()
    rows = sub.to_dict("records")
    messages: list[Messages | None] = []
    skip: list[str | None] = []
    for i, row in enumerate(rows):
        if na[i].any():
            gone = [f for f, isna in zip(fields, na[i], strict=True) if isna]
            messages.append(None)
            skip.append(f"column {gone[0]!r} is missing (NA) in this row")
            continue
        try:
            text = template.format_map(row)
        except (KeyError, IndexError, AttributeError, ValueError) as exc:
            raise ConfigError(
                f"prompt could not be formatted for row {frame.index[i]!r}: {exc!r}"
            ) from None
        messages.append([*head, {"role": "user", "content": text}])
        skip.append(None)
    return Prompts(messages, skip)


def _from_callable(
    frame: pd.DataFrame, fn: Callable[[dict[str, Any]], Any], head: Messages
) -> Prompts:
    messages: list[Messages | None] = []
    skip: list[str | None] = []
    for i, row in enumerate(frame.to_dict("records")):
        try:
            value = fn(cast(dict[str, Any], row))
        except Exception as exc:
            raise ConfigError(
                f"prompt({{row {frame.index[i]!r}}}) raised {type(exc).__name__}: {exc}"
            ) from exc
        _append(value, frame.index[i], head, messages, skip, "the prompt callable returned None")
    return Prompts(messages, skip)


def _from_column(frame: pd.DataFrame, column: str, head: Messages) -> Prompts:
    messages: list[Messages | None] = []
    skip: list[str | None] = []
    for label, value in zip(frame.index, frame[column].tolist(), strict=True):
        _append(value, label, head, messages, skip, f"column {column!r} is empty in this row")
    return Prompts(messages, skip)


def _append(
    value: Any,
    label: Any,
    head: Messages,
    messages: list[Messages | None],
    skip: list[str | None],
    why_empty: str,
) -> None:
    if _is_missing(value):
        messages.append(None)
        skip.append(why_empty)
        return
    if isinstance(value, str):
        messages.append([*head, {"role": "user", "content": value}])
        skip.append(None)
        return
    msgs = _messages(value, label)
    if not msgs:
        messages.append(None)
        skip.append(why_empty)
        return
    messages.append([*head, *msgs])
    skip.append(None)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    import pandas as pd

    return value is pd.NA or value is pd.NaT


def _messages(value: Any, label: Any) -> Messages:
    if isinstance(value, (Mapping, bytes, str)):
        value = [value]
    if not isinstance(value, Sequence) and not hasattr(value, "__array__"):
        raise ConfigError(
            f"row {label!r}: a prompt must be a string or a list of messages, "
            f"not {type(value).__name__}"
        )
    out: Messages = []
    for m in list(value):
        if not isinstance(m, Mapping):
            raise ConfigError(
                f"row {label!r}: each message must be a dict with role and content, "
                f"not {type(m).__name__}"
            )
        role, content = m.get("role"), m.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise ConfigError(
                f"row {label!r}: each message needs a string role and content, got {dict(m)!r:.120}"
            )
        out.append({"role": role, "content": content})
    return out
