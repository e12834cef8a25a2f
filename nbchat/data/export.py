"""A conversation as a document: markdown (``ChatPanel.to_markdown()``) and a Jupyter notebook
(``ChatPanel.to_notebook(path)``).

Markdown: one heading per message (``## User``, ``## Assistant``), the text verbatim under it.
Notebook (nbformat 4.5, built here as plain JSON: nbformat is not a dependency; the tests
validate it with ``nbformat.validate``): one markdown cell per message, and after a reply, one
code cell per fenced Python block in it, so the code the model wrote can be run.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["python_blocks", "to_markdown", "to_notebook"]

_HEADINGS = {"user": "User", "assistant": "Assistant", "system": "System"}
_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*$")
#: Info strings that mark a fenced block as Python (CommonMark: the first word).
PYTHON_INFO = {"python", "py", "python3", "ipython", "ipython3", "pycon"}


def _heading(m: Mapping[str, Any]) -> str:
    role = str(m.get("role") or "assistant")
    heading = _HEADINGS.get(role, role.title())
    if role == "assistant" and m.get("model"):
        heading += f" ({m['model']})"
    return heading


def to_markdown(
    messages: Iterable[Mapping[str, Any]], *, system: str | None = None, title: str | None = None
) -> str:
    """The conversation as markdown: ``## User`` / ``## Assistant`` headings, text verbatim."""
    parts = [f"# {title}\n"] if title else []
    if system:
        parts.append(f"## System\n\n{system}\n")
    for m in messages:
        parts.append(f"## {_heading(m)}\n\n{m.get('content') or ''}\n")
    return "\n".join(parts)


def python_blocks(text: str) -> list[str]:
    """The code of each fenced block (``` or ~~~) whose info string says Python."""
    blocks: list[str] = []
    fence: str | None = None
    lang = ""
    body: list[str] = []
    for line in text.splitlines():
        if fence is None:
            m = _OPEN.match(line)
            if m:
                fence, lang, body = m.group(1), m.group(2).lower(), []
        elif line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
            if lang in PYTHON_INFO:
                blocks.append("\n".join(body))
            fence = None
        else:
            body.append(line)
    if fence is not None and lang in PYTHON_INFO and body:  # unclosed: runs to the end
        blocks.append("\n".join(body))
    return blocks


def _cell(kind: str, source: str) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": uuid.uuid4().hex[:12],
        "metadata": {},
        "source": source,
    }
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook(
    messages: Iterable[Mapping[str, Any]], *, system: str | None = None, title: str | None = None
) -> dict[str, Any]:
    """The conversation as an nbformat 4.5 notebook dict."""
    cells = [_cell("markdown", f"# {title}")] if title else []
    if system:
        cells.append(_cell("markdown", f"## System\n\n{system}"))
    for m in messages:
        text = str(m.get("content") or "")
        cells.append(_cell("markdown", f"## {_heading(m)}\n\n{text}"))
        if m.get("role") == "assistant":
            cells += [_cell("code", code) for code in python_blocks(text)]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def to_notebook(
    messages: Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    system: str | None = None,
    title: str | None = None,
) -> Path:
    """Write the conversation to ``path`` as a notebook; returns the path."""
    out = Path(path)
    doc = notebook(messages, system=system, title=title)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out
