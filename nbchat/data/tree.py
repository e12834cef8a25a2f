"""A conversation as a tree of messages: each message names its ``parent_id`` (the message it
follows; None for the first). Editing a message adds a sibling (same parent) and the branch
under it; nothing is overwritten. The *active path* runs from a root to the active leaf: that is
what the panel shows and what is sent to the model.

Pure functions over message dicts (``Message.to_dict()``); no I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Tree", "chain", "plain"]


def plain(m: Mapping[str, Any]) -> dict[str, Any]:
    """A message dict without the derived branch info (what is stored and compared)."""
    d = dict(m)
    d["branches"] = None
    return d


def chain(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` as a path: each one's ``parent_id`` set to the message before it when it
    has none (documents saved before branches existed)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        d = dict(m)
        if d.get("parent_id") is None and out:
            d["parent_id"] = out[-1]["id"]
        d.setdefault("parent_id", None)
        out.append(d)
    return out


class Tree:
    """Every message of one conversation, by id, and the active path through them.

    Thread-safe: a panel's worker thread adds replies while the kernel's thread may read.
    """

    def __init__(self, messages: Iterable[Mapping[str, Any]] = ()) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self.add(messages)

    def __len__(self) -> int:
        return len(self.by_id)

    def __contains__(self, message_id: str) -> bool:
        return message_id in self.by_id

    def messages(self) -> list[dict[str, Any]]:
        """Every message, in the order they were added."""
        with self.lock:
            return list(self.by_id.values())

    def add(self, messages: Iterable[Mapping[str, Any]]) -> None:
        with self.lock:
            for m in messages:
                self.by_id[str(m["id"])] = plain(m)

    def children(self, parent: str | None) -> list[dict[str, Any]]:
        """The messages that follow ``parent`` (None: the first messages), oldest first."""
        kids = [m for m in self.messages() if m.get("parent_id") == parent]
        return sorted(kids, key=lambda m: str(m.get("created_at") or ""))

    def path(self, leaf: str | None) -> list[dict[str, Any]]:
        """The messages from a root down to ``leaf`` (empty for None or an unknown id)."""
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        node = self.by_id.get(leaf) if leaf is not None else None
        while node is not None and node["id"] not in seen:
            seen.add(node["id"])
            out.append(node)
            parent = node.get("parent_id")
            node = self.by_id.get(parent) if parent is not None else None
        return out[::-1]

    def latest_leaf(self, start: str) -> str:
        """The end of the most recent branch under ``start`` (``start`` itself if it has none)."""
        index: dict[str | None, list[dict[str, Any]]] = {}
        for m in self.messages():
            index.setdefault(m.get("parent_id"), []).append(m)
        node, seen = start, {start}
        while index.get(node):
            nxt = max(index[node], key=lambda m: str(m.get("created_at") or ""))["id"]
            if nxt in seen:
                break
            node = nxt
            seen.add(node)
        return node

    def annotate(self, path: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``path`` with each message's ``branches``: the ids of it and its siblings (the
        other versions of that message, oldest first), or None when it has none."""
        index: dict[str | None, list[dict[str, Any]]] = {}
        for m in self.messages():
            index.setdefault(m.get("parent_id"), []).append(m)
        out = []
        for item in path:
            d = dict(item)
            sibs = index.get(d.get("parent_id"), [])
            if len(sibs) > 1:
                d["branches"] = [
                    s["id"] for s in sorted(sibs, key=lambda s: str(s.get("created_at") or ""))
                ]
            else:
                d["branches"] = None
            out.append(d)
        return out

    def frame(self, active: Iterable[str]) -> pd.DataFrame:
        """The whole tree: ``message_id``, ``parent_id``, ``role``, ``content``, ``active`` (on
        the active path) and ``created_at``, oldest first."""
        import pandas as pd

        on = set(active)
        rows = sorted(self.messages(), key=lambda m: str(m.get("created_at") or ""))
        frame = pd.DataFrame(
            {
                "message_id": [m["id"] for m in rows],
                "parent_id": [m.get("parent_id") for m in rows],
                "role": [m.get("role") for m in rows],
                "content": [m.get("content") for m in rows],
                "active": [m["id"] in on for m in rows],
                "created_at": pd.to_datetime(
                    pd.Series([m.get("created_at") for m in rows], dtype=object),
                    utc=True,
                    format="ISO8601",
                    errors="coerce",
                ),
            }
        )
        return frame
