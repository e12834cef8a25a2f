"""A panel's conversation as durable data: the tree of every message (edits and retries add
branches; nothing is overwritten) and its place in the store (``nbchat.data.store``).

The panel shows, and sends to the model, only the active path (``ChatPanel.messages``); each
message on it carries ``parent_id`` and ``branches`` (the ids of its versions) for the
"‹ 2 / 3 ›" switcher. The runner (``nbchat.panel.runner``) calls :meth:`Book.follow` when a
user message is added and :meth:`Book.commit` when its reply finishes: the pair is written to
the store then, in the worker thread, as one transaction.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from nbchat.client import Client
from nbchat.data.store import Store, StoreOff, get_store, notebook_path
from nbchat.data.tree import Tree, chain
from nbchat.records import Message, new_id

__all__ = ["Book"]

log = logging.getLogger("nbchat")


class Book:
    """The tree and the store binding of one panel (``panel`` is the ChatPanel)."""

    def __init__(self, panel: Any) -> None:
        self.panel = panel
        self.tree = Tree()
        self.store: Store | None = None
        self.conversation_id = new_id()
        self.name: str | None = None
        self.notebook: str | None = None

    def open(self, name: str | None, store: bool) -> None:
        """Bind to the store (unless ``store`` is False or it is off); a named conversation
        that exists is loaded (its active branch) and written to from now on."""
        self.name = name
        if not store:
            return
        try:
            self.store = get_store()
        except StoreOff:
            return
        self.notebook = notebook_path()
        if name:
            self.conversation_id = self.store.named(name)
            messages, leaf = self.store.load(self.conversation_id)
            if messages:
                self.tree.add(messages)
                self.panel.messages = self.tree.annotate(self.tree.path(leaf))

    # -- what the runner calls -------------------------------------------------------------

    def client(self) -> Client:
        """The client a turn runs on: the panel's, unstored (the panel stores its own turns,
        with their conversation and branches; ``Client(store=True)`` would store them twice)."""
        client: Client = self.panel.client
        if client.store:
            client = copy.copy(client)
            client.store = False
        return client

    def follow(self, msg: dict[str, Any]) -> dict[str, Any]:
        """A new user message, placed after the active path's last message."""
        path = self.panel.messages
        msg = {**msg, "parent_id": path[-1]["id"] if path else None}
        self.tree.add(chain(path))
        self.tree.add([msg])
        return self.tree.annotate([msg])[0]

    def commit(self, reply: dict[str, Any]) -> dict[str, Any]:
        """The finished reply, placed after the message it answers, and written to the store
        with that user message."""
        path = chain(self.panel.messages)
        reply = {**reply, "parent_id": path[-1]["id"] if path else None}
        turn = [*(path[-1:] if path and path[-1]["role"] == "user" else []), reply]
        self.tree.add(path)
        self.tree.add([reply])
        self._write(turn)
        return self.tree.annotate([reply])[0]

    def activate(self) -> None:
        """Record the active path's end (after a branch switch, a clear or an undo)."""
        path = self.panel.messages
        if self.store is not None:
            try:
                self.store.set_active(self.conversation_id, path[-1]["id"] if path else None)
            except Exception as exc:
                log.warning("nbchat could not update the store: %s", exc)

    def edited(self, index: int, text: str) -> list[dict[str, Any]]:
        """The active path with user message ``index`` replaced by a new version of it (a
        sibling: the old branch stays in the tree)."""
        msgs = chain(self.panel.messages)
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"index must be an int, not {type(index).__name__}")
        if not -len(msgs) <= index < len(msgs):
            raise IndexError(f"no message {index}: the conversation has {len(msgs)} messages")
        index %= len(msgs)
        if msgs[index]["role"] != "user":
            raise ValueError(
                f"message {index} is an {msgs[index]['role']} message; only user messages "
                "can be edited"
            )
        panel = self.panel
        new = Message.user(
            text, model=panel.model, api=panel.client.api, params=panel.sent_params()
        ).to_dict()
        new["parent_id"] = msgs[index]["parent_id"]
        self.tree.add(msgs)
        self.tree.add([new])
        return self.tree.annotate([*msgs[:index], new])

    def branch(self, message_id: str) -> list[dict[str, Any]]:
        """The active path through ``message_id`` (to the newest end of the branch under it)."""
        self.tree.add(chain(self.panel.messages))
        if message_id not in self.tree:
            raise ValueError(f"no message {message_id!r} in this conversation")
        return self.tree.annotate(self.tree.path(self.tree.latest_leaf(message_id)))

    def adopt(
        self, messages: Iterable[Mapping[str, Any]], tree: Iterable[Mapping[str, Any]] = ()
    ) -> None:
        """Take a saved conversation (its active path and, if saved, its other branches) and
        write it to the store as this panel's conversation."""
        path = chain(messages)
        self.tree.add(tree)
        self.tree.add(path)
        self.panel.messages = self.tree.annotate(path)
        self._write(self.tree.messages(), leaf=path[-1]["id"] if path else None)

    def frame(self) -> Any:
        """``chat.branches()``: the whole tree as a DataFrame."""
        path = chain(self.panel.messages)
        self.tree.add(path)
        return self.tree.frame(m["id"] for m in path)

    def _write(self, messages: list[dict[str, Any]], leaf: str | None = None) -> None:
        if self.store is None or not messages:
            return
        try:
            self.store.write(
                self.conversation_id,
                messages,
                name=self.name,
                active_leaf=leaf,
                notebook=self.notebook,
                source="panel",
            )
        except Exception as exc:  # a chat must not fail because the disk is full
            log.warning("nbchat could not write to the store %s: %s", self.store.path, exc)
