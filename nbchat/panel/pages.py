"""The conversation as pages, so that a new message costs the same however long the chat is.

ipywidgets re-sends a trait's whole value whenever it changes. A conversation kept in one list
trait would cost the whole list on every message (about 700 B per earlier message, twice per
turn: O(n²) bytes over a conversation). Instead the panel keeps

* ``recent``: the newest messages, at most ``PAGE_SIZE`` of them, a list trait; and
* ``pages``: older messages in immutable child models of ``PAGE_SIZE`` messages each. A page's
  state is sent once, when it is created; after that ``pages`` only re-sends references
  (about 45 B a page).

A saved notebook's widget state and a reloaded page see every model, so the conversation is
still all in synced state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ipywidgets
import traitlets

__all__ = ["PAGE_SIZE", "MessagePage", "append", "layout"]

#: Messages per page; ``recent`` holds 1..PAGE_SIZE messages once the chat has begun.
PAGE_SIZE = 20


class MessagePage(ipywidgets.Widget):  # type: ignore[misc]
    """An immutable page of committed messages: a model with no view, synced once."""

    messages = traitlets.List(traitlets.Dict()).tag(sync=True)


def layout(
    pages: list[MessagePage], messages: Iterable[Mapping[str, Any]]
) -> tuple[list[MessagePage], list[dict[str, Any]], list[MessagePage]]:
    """Lay ``messages`` out as (pages, recent), reusing the pages that still match.

    Returns the new pages, the new ``recent`` list, and the pages no longer used (to close).
    """
    value = [dict(m) for m in messages]
    kept: list[MessagePage] = []
    at = 0
    for page in pages:
        chunk = value[at : at + PAGE_SIZE]
        if len(chunk) < PAGE_SIZE or chunk != page.messages or at + PAGE_SIZE >= len(value):
            break
        kept.append(page)
        at += PAGE_SIZE
    dropped = pages[len(kept) :]
    rest = value[at:]
    while len(rest) > PAGE_SIZE:
        kept.append(MessagePage(messages=rest[:PAGE_SIZE]))
        rest = rest[PAGE_SIZE:]
    return kept, rest, dropped


def append(
    pages: list[MessagePage], recent: list[dict[str, Any]], message: dict[str, Any]
) -> tuple[list[MessagePage], list[dict[str, Any]]]:
    """(pages, recent) with ``message`` added: at most ``PAGE_SIZE`` messages are re-sent.

    When ``recent`` overflows, its oldest ``PAGE_SIZE`` messages become a new page.
    """
    recent = [*recent, message]
    if len(recent) > PAGE_SIZE:
        pages = [*pages, MessagePage(messages=recent[:PAGE_SIZE])]
        recent = recent[PAGE_SIZE:]
    return pages, recent
