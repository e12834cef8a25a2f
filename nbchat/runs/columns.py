"""The columns of a comparison: which client, model and parameters each one asks, and its label.

A column is given as a model name, ``(model, params)`` or ``(client, model, params)`` (also
``(client, model)``). Parameters given for the whole comparison apply to every column; a
column's own parameters win. Labels default to the model, plus the parameters whose values
differ between columns (``demo · max_tokens=30``), plus the server when the same model and
parameters are asked of two servers; a label that is still not unique gets `` #2``, `` #3``.

Used by :class:`nbchat.Compare` (the widget) and :func:`nbchat.compare` (headless).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nbchat._exceptions import ConfigError
from nbchat.client import Client
from nbchat.records import PARAM_NAMES, check_params

__all__ = ["Column", "needs_default_client", "parse_columns"]


@dataclass(frozen=True)
class Column:
    """One column: a client, a model, the parameters sent, and the label a person reads."""

    client: Client = field(repr=False)
    model: str
    params: dict[str, Any]
    label: str


def needs_default_client(columns: Any) -> bool:
    """Whether some column names no client of its own (so the default one is needed)."""
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Sequence):
        return True
    return not all(isinstance(c, (tuple, list)) and c and isinstance(c[0], Client) for c in columns)


def _spec(item: Any, default: Client | None) -> tuple[Client | None, str, dict[str, Any]]:
    """(client, model, params) of one column spec."""
    if isinstance(item, str):
        return default, item, {}
    if isinstance(item, (tuple, list)):
        parts = list(item)
        client = default
        if parts and isinstance(parts[0], Client):
            client = parts.pop(0)
        if len(parts) == 1 and isinstance(parts[0], str):
            return client, parts[0], {}
        if len(parts) == 2 and isinstance(parts[0], str) and isinstance(parts[1], Mapping):
            return client, parts[0], dict(parts[1])
    raise ConfigError(
        f"a column is a model name, (model, params) or (client, model, params), not {item!r}"[:200]
    )


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def parse_columns(
    columns: Sequence[Any],
    client: Client | None,
    params: Mapping[str, Any],
    default_client: Client | None = None,
) -> list[Column]:
    """The columns of ``columns`` with their labels.

    ``client`` is the comparison's client (a column's own client wins); ``default_client``
    serves columns that name none when ``client`` is None (the demo server or the configured
    API, ``nbchat.runs.defaults``). ``params`` apply to every column. A bad parameter is a
    ConfigError naming it, before anything is sent.
    """
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Sequence):
        raise ConfigError("columns must be a list: Compare(['model-a', 'model-b'])")
    if not columns:
        raise ConfigError("a comparison needs at least one column")
    common = check_params(params, allow_extra=False)
    specs: list[tuple[Client, str, dict[str, Any]]] = []
    for item in columns:
        c, model, own = _spec(item, client)
        if not model:
            raise ConfigError("a column's model name is empty")
        merged = {**common, **check_params(own, allow_extra=False)}
        c = c or default_client
        if c is None:
            raise ConfigError(f"column {model!r} has no client")
        specs.append((c, model, merged))

    # The parameters that differ between columns (a column that lacks one differs too).
    keys = [k for k in PARAM_NAMES if any(k in p for _, _, p in specs)]
    differing = [k for k in keys if len({_value(p.get(k)) for _, _, p in specs}) > 1]
    labels = []
    for _, model, p in specs:
        shown = ", ".join(f"{k}={_value(p[k])}" for k in differing if k in p)
        labels.append(f"{model} · {shown}" if shown else model)
    # The same model and parameters on two servers: name the server.
    base = list(labels)
    for i, (c, _, _) in enumerate(specs):
        same = [s[0].display_url for j, s in enumerate(specs) if base[j] == base[i]]
        if len(set(same)) > 1:
            labels[i] = f"{base[i]} @ {c.display_url}"
    seen: dict[str, int] = {}
    out = []
    for (c, model, p), label in zip(specs, labels, strict=True):
        seen[label] = seen.get(label, 0) + 1
        unique = label if seen[label] == 1 else f"{label} #{seen[label]}"
        out.append(Column(c, model, p, unique))
    return out
