"""The conversation as data, for :class:`~nbchat.ChatPanel`: DataFrames, branches, exports,
saving and loading. A mixin, so that ``widget.py`` stays traits, bundle and dispatcher.

The tree behind ``edit`` and ``switch_branch`` and the store binding live in
``nbchat.panel.book``; the documents in ``nbchat.data.export`` and ``nbchat.data.saved``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from nbchat.client import Client
    from nbchat.panel.runner import PanelRunner
    from nbchat.runs.turn import Turn

__all__ = ["ConversationMethods"]


class ConversationMethods:
    """History, branches, exports and saving of a ChatPanel."""

    if TYPE_CHECKING:
        _runner: PanelRunner
        model: str
        system: str
        params: dict[str, Any]

        @property
        def messages(self) -> list[dict[str, Any]]: ...

    @property
    def name(self) -> str | None:
        """The conversation's name (``ChatPanel(name=...)``), or None."""
        return self._runner.book.name

    @property
    def conversation_id(self) -> str:
        """The conversation's id in the store (``nbchat.logs()``, ``nbchat.conversations()``)."""
        return self._runner.book.conversation_id

    def history(self) -> pd.DataFrame:
        """The conversation as a pandas DataFrame, one row per message (see nbchat.history)."""
        from nbchat.data import frames

        return frames.history(self)

    def usage(self) -> pd.DataFrame:
        """Token usage per reply with running totals, as a DataFrame (see nbchat.usage)."""
        from nbchat.data import frames

        return frames.usage(self)

    # -- edit and branch -------------------------------------------------------------------

    def edit(self, index: int, text: str) -> Turn:
        """Send ``text`` as a new version of the user message at ``index`` (its position in
        ``messages``) and ask for a new reply: a new branch, the old one is kept.

        Returns the same handle as :meth:`send`. Only the active branch is sent to the model.
        """
        return self._runner.edit(index, text)

    def switch_branch(self, message_id: str) -> None:
        """Show the branch through ``message_id`` (one of a message's ``branches``)."""
        self._runner.switch_branch(message_id)

    def branches(self) -> pd.DataFrame:
        """Every message of the conversation, every branch: ``message_id``, ``parent_id``,
        ``role``, ``content``, ``active`` (on the branch shown) and ``created_at``."""
        result: pd.DataFrame = self._runner.book.frame()
        return result

    def _edit_intent(self, message_id: str, text: str) -> Turn:
        ids = [m["id"] for m in self.messages]
        if message_id not in ids:
            raise ValueError("that message is not in the conversation shown")
        return self.edit(ids.index(message_id), text)

    # -- documents ---------------------------------------------------------------------------

    def to_markdown(self) -> str:
        """The conversation shown, as markdown: roles as headings, text verbatim."""
        from nbchat.data.export import to_markdown

        return to_markdown(self.messages, system=self.system or None, title=self.name)

    def to_notebook(self, path: str | os.PathLike[str]) -> Path:
        """Write the conversation shown as a notebook: a markdown cell per message and a code
        cell per fenced Python block of a reply. Returns the path."""
        from nbchat.data.export import to_notebook

        return to_notebook(self.messages, path, system=self.system or None, title=self.name)

    def to_json(self) -> str:
        """The conversation (every branch), model, system prompt and parameters as JSON
        (never the key)."""
        from nbchat.data.saved import panel_to_json

        return panel_to_json(self)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` to ``path``; :meth:`load` reads it back. Returns the path."""
        out = Path(path)
        out.write_text(self.to_json(), encoding="utf-8")
        return out

    @classmethod
    def from_json(cls, data: str | bytes, client: Client | None = None, **kwargs: Any) -> Any:
        """A panel holding a conversation saved with :meth:`to_json` (a new stored
        conversation; ``kwargs`` go to ``ChatPanel``, e.g. ``name=``)."""
        from nbchat.data.saved import panel_from_json

        state = panel_from_json(data)
        make: Any = cls
        panel = make(client=client, **kwargs)
        with panel.hold_sync():
            panel.model = state.get("model") or panel.model
            panel.system = state.get("system") or ""
            panel.params = dict(state.get("params") or {})
            panel._runner.book.adopt(state["messages"], state.get("tree") or ())
        return panel

    @classmethod
    def load(
        cls, source: str | bytes | os.PathLike[str], client: Client | None = None, **kwargs: Any
    ) -> Any:
        """A panel from a file written by :meth:`save` (a path) or its text."""
        if isinstance(source, bytes):
            source = source.decode("utf-8")
        if isinstance(source, str) and source.lstrip().startswith("{"):
            return cls.from_json(source, client, **kwargs)
        return cls.from_json(Path(source).read_text("utf-8"), client, **kwargs)
