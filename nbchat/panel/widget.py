"""ChatPanel: the chat panel widget. Thin by design: traits, the bundle, one dispatcher.

Turns run in ``nbchat.runs.turn``, started and sunk by ``nbchat.panel.runner``. The kernel is the
only writer of every synced trait; the front end sends intents (``nbchat.panel.vocabulary``).
The API key lives in the client and never becomes a trait.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import ipywidgets
import traitlets

from nbchat.client import Client
from nbchat.panel.bundle import Bundle, direct, shared_bundle
from nbchat.panel.conversation import ConversationMethods
from nbchat.panel.inspector import InspectorMethods, set_budget
from nbchat.panel.intents import IntentDispatch
from nbchat.panel.pages import MessagePage, layout
from nbchat.panel.runner import BusyError, PanelRunner
from nbchat.panel.transcript import Transcript
from nbchat.records import PARAM_NAMES, check_params
from nbchat.runs.defaults import DEMO_MODEL, default_client
from nbchat.runs.turn import Turn

__all__ = ["BusyError", "ChatPanel"]

STATIC = Path(__file__).parent.parent / "static"


class ChatPanel(ConversationMethods, InspectorMethods, IntentDispatch, anywidget.AnyWidget):
    """A chat panel for a notebook cell.

    Parameters
    ----------
    client:
        A :class:`~nbchat.Client`. Default: Spellbook when ``$SPELLBOOK_API_KEY`` is set,
        otherwise the embedded offline demo server.
    model:
        The model name sent with each request.
    system:
        A system prompt, sent first in every request.
    name:
        The conversation's name in the store: if it exists, it is loaded (its active branch)
        and continued. Without a name each panel is a new stored conversation.
    store:
        False: keep nothing in the store (``NBCHAT_STORE=off`` switches it off everywhere).
    budget:
        USD the panel's client may spend (``Client(budget=...)``); shown with what remains.
    **params:
        Generation parameters (``nbchat.records.PARAMS``): ``temperature``, ``max_tokens``,
        ``stop``, ``top_p``, ``top_k``.
    """

    # One copy of the front end per kernel (panel/bundle.py): each panel loads it through a
    # small loader; with ANYWIDGET_HMR=1 the files load directly, for hot reload.
    if direct():
        _esm = STATIC / "widget.js"
        _css = STATIC / "widget.css"
    else:
        _esm = STATIC / "loader.js"
    bundle = traitlets.Instance(Bundle, allow_none=True).tag(
        sync=True, **ipywidgets.widget_serialization
    )
    """The shared front end (``nbchat.panel.bundle``), or None when loading files directly."""

    pages = traitlets.List(traitlets.Instance(MessagePage)).tag(
        sync=True, **ipywidgets.widget_serialization
    )
    """Older messages, in immutable pages (see ``nbchat.panel.pages``)."""
    recent = traitlets.List(traitlets.Dict()).tag(sync=True)
    """The newest messages (at most ``PAGE_SIZE``); the conversation ends with these."""
    status = traitlets.Unicode("idle").tag(sync=True)
    """``idle``, ``streaming`` or ``error``."""
    streaming = traitlets.Dict().tag(sync=True)
    """The reply in progress (id, request_id, model, created_at), or empty."""
    model = traitlets.Unicode("").tag(sync=True)
    models = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """The server's models, offered by the settings' model field (free text stays possible)."""
    system = traitlets.Unicode("").tag(sync=True)
    params = traitlets.Dict().tag(sync=True)
    """Generation parameters (``nbchat.records.PARAMS``); unset ones use the server default."""
    backend = traitlets.Unicode("").tag(sync=True)
    """A label for the header: which server and API (never the key)."""
    error = traitlets.Unicode("").tag(sync=True)
    """The last error message, or empty."""
    budget = traitlets.Dict().tag(sync=True)
    """USD ``limit``, ``spent`` and ``remaining`` (``nbchat.panel.inspector``), or empty."""

    def __init__(
        self,
        client: Client | None = None,
        model: str | None = None,
        system: str | None = None,
        *,
        name: str | None = None,
        store: bool = True,
        budget: float | None = None,
        **params: Any,
    ) -> None:
        unknown = set(params) - set(PARAM_NAMES)
        if unknown:
            raise TypeError(f"unknown parameter(s) {sorted(unknown)}; use {list(PARAM_NAMES)}")
        client, demo = (client, False) if client is not None else default_client()
        self._client = client
        self._runner = PanelRunner(self)
        label = f"{'demo model (offline)' if demo else client.api.upper()} · {client.display_url}"
        super().__init__(
            **self._runner.model_traits(model or (DEMO_MODEL if demo else None)),
            system=system or "",
            params=check_params(params, allow_extra=False),  # ConfigError names a bad one
            backend=label,
            budget=set_budget(client, budget),  # USD; a request over it is refused unsent
            bundle=None if direct() else shared_bundle(),
        )
        self.on_msg(self._on_custom_msg)
        self._transcript = Transcript(self)
        self.observe(self._transcript.changed, names=["recent", "pages", "streaming"])
        self._runner.book.open(name, store)

    @property
    def client(self) -> Client:
        return self._client

    def _ipython_display_(self, **kwargs: Any) -> None:
        """The panel, and under it a static transcript for where widgets cannot render."""
        self._transcript.display()

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation: one dict per message (``nbchat.records.Message.to_dict()``).

        Setting it replaces the conversation. It is kept in synced state as ``pages`` +
        ``recent``, so that a new message costs the same however long the chat is.
        """
        return [m for page in self.pages for m in page.messages] + list(self.recent)

    @messages.setter
    def messages(self, value: list[dict[str, Any]]) -> None:
        pages, recent, dropped = layout(list(self.pages), value)
        with self.hold_sync():
            self.pages = pages
            self.recent = recent
        for page in dropped:
            page.close()

    def send(self, text: str) -> Turn:
        """Send a user message; returns at once with a handle whose ``wait()`` gives the Reply."""
        return self._runner.send(text)

    def stop(self) -> None:
        """Stop the reply in progress; its partial text is kept, marked stopped."""
        self._runner.stop()

    def retry(self) -> Turn:
        """Send the last user message again, replacing the reply that followed it."""
        return self._runner.retry()

    def clear(self) -> None:
        """Stop any reply and empty the conversation (``undo_clear()`` brings it back)."""
        self._runner.clear()

    def undo_clear(self) -> None:
        """Put back the conversation the last ``clear()`` removed, if nothing was said since."""
        self._runner.undo_clear()

    def close(self) -> None:
        """Stop the worker before the widget closes (a worker sending to a closed comm fails)."""
        self.stop()
        for page in self.pages:
            page.close()
        super().close()

    def __repr__(self) -> str:
        return (
            f"ChatPanel(model={self.model!r}, messages={len(self.messages)}, "
            f"status={self.status!r}, client={self._client!r})"
        )

    def sent_params(self) -> dict[str, Any]:
        """What a message records it was sent with: the parameters and the system prompt."""
        return {**self.params, "system": self.system or None}

    # -- the front end -----------------------------------------------------------------

    #: Intents answered by a message of their own instead of an ack.
    _answered_by_reply: ClassVar[frozenset[str]] = frozenset({"snapshot-request", "raw-request"})

    _dispatch: ClassVar[dict[str, Callable[[ChatPanel, dict[str, Any]], Any]]] = {
        "send": lambda self, msg: self.send(str(msg.get("text", ""))),
        "stop": lambda self, msg: self.stop(),
        "retry": lambda self, msg: self.retry(),
        "clear": lambda self, msg: self.clear(),
        "undo-clear": lambda self, msg: self.undo_clear(),
        "snapshot-request": lambda self, msg: self.send_msg(self._runner.snapshot(msg.get("id"))),
        "settings": lambda self, msg: self._runner.settings(msg),
        "edit": lambda self, msg: self._edit_intent(str(msg.get("message_id")), str(msg["text"])),
        "switch-branch": lambda self, msg: self.switch_branch(str(msg.get("message_id"))),
        "raw-request": lambda self, msg: self.send_msg(self._raw_answer(msg)),
    }
