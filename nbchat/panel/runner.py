"""The panel's conversation control: send, retry, clear and undo, one turn at a time; the sink
of those turns; the snapshot a view that missed deltas catches up from.

Every trait write of a streaming turn goes through here, batched with ``hold_sync``.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any, Protocol

from nbchat._exceptions import BudgetExceeded, NbchatError
from nbchat.client import Client
from nbchat.panel.book import Book
from nbchat.panel.inspector import RawStore, budget_state
from nbchat.panel.pages import append
from nbchat.records import PARAM_NAMES, PARAMS, Message
from nbchat.runs.defaults import resolve_model
from nbchat.runs.turn import Turn, prompt

__all__ = ["SETTINGS_PARAMS", "BusyError", "PanelRunner"]

#: The parameters the settings form edits (the rest are set from Python).
SETTINGS_PARAMS = tuple(name for name, p in PARAMS.items() if p.in_settings)


class BusyError(NbchatError, RuntimeError):
    """A reply is still streaming; stop it before sending again."""


class Panel(Protocol):
    """What the runner needs of :class:`~nbchat.ChatPanel` (its traits and three methods)."""

    pages: list[Any]
    recent: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    streaming: dict[str, Any]
    status: str
    error: str
    model: str
    models: list[str]
    system: str
    params: dict[str, Any]
    budget: dict[str, Any]

    @property
    def client(self) -> Client: ...

    def hold_sync(self) -> AbstractContextManager[Any]: ...

    def send_msg(self, content: dict[str, Any]) -> None: ...

    def sent_params(self) -> dict[str, Any]: ...


class PanelRunner:
    """Runs one panel's turns on worker threads and feeds their output to the panel."""

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.turn: Turn | None = None
        #: Held while a turn is started or the conversation changes (send, retry, clear).
        self.lock = threading.RLock()
        #: What the last clear() removed, for undo_clear() (the panel's Undo).
        self.cleared: list[dict[str, Any]] = []
        #: Every message (branches too) and the store (nbchat.panel.book).
        self.book = Book(panel)
        #: What went over the wire for each reply (kernel only; nbchat.panel.inspector).
        self.raws = RawStore()

    @property
    def busy(self) -> bool:
        return self.turn is not None and not self.turn.done

    def send(self, text: str) -> Turn:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the message is empty")
        panel = self.panel
        with self.lock:
            if self.busy:
                raise BusyError("a reply is still streaming; stop it (chat.stop()) first")
            if not panel.model:
                pick = f"pick one of {panel.models} in Settings, " if panel.models else ""
                raise NbchatError(f"no model set: {pick}ChatPanel(model=...) or chat.model = ...")
            api, params = panel.client.api, panel.sent_params()
            msg = Message.user(text, model=panel.model, api=api, params=params).to_dict()
            # The request is built (and checked) before the message joins the conversation: a
            # turn that cannot start (stop=5, a message without a role) leaves no orphan.
            turn = self.prepare([*panel.messages, msg])
            msg = self.book.follow(msg)
            with panel.hold_sync():
                panel.pages, panel.recent = append(list(panel.pages), list(panel.recent), msg)
            return self.launch(turn)

    def retry(self) -> Turn:
        self.stop()
        with self.lock:
            msgs = list(self.panel.messages)
            while msgs and msgs[-1]["role"] != "user":
                msgs.pop()
            if not msgs:
                raise NbchatError("nothing to retry: the conversation has no user message")
            turn = self.prepare(msgs)  # checked before the reply is removed
            self.panel.messages = msgs
            return self.launch(turn)

    def clear(self) -> None:
        self.stop()
        panel = self.panel
        with self.lock, panel.hold_sync():
            self.cleared = panel.messages or self.cleared
            panel.messages = []
            panel.status = "idle"
            panel.error = ""
            panel.streaming = {}
            self.book.activate()

    def undo_clear(self) -> None:
        with self.lock:
            if not self.cleared:
                raise NbchatError("nothing to undo")
            if self.panel.messages:
                raise NbchatError("the conversation has new messages: the cleared one is gone")
            self.panel.messages, self.cleared = self.cleared, []
            self.book.activate()

    def edit(self, index: int, text: str) -> Turn:
        """A new version of user message ``index`` and a new reply (a branch; nbchat.panel.book)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the message is empty")
        self.stop()
        with self.lock:
            if self.busy:
                raise BusyError("a reply is still streaming; stop it (chat.stop()) first")
            self.panel.messages = self.book.edited(index, text)
            return self.start()

    def switch_branch(self, message_id: str) -> None:
        with self.lock:
            if self.busy:
                raise BusyError("a reply is still streaming; stop it (chat.stop()) first")
            self.panel.messages = self.book.branch(message_id)
            self.book.activate()

    def model_traits(self, model: str | None) -> dict[str, Any]:
        """``model``, ``models`` (the picker) and ``error`` (why there is no model) for a new
        panel, by the rule of :func:`~nbchat.runs.defaults.resolve_model`."""
        choice = resolve_model(self.panel.client, model)
        return {"model": choice.model, "models": choice.models, "error": choice.note}

    def settings(self, msg: dict[str, Any]) -> None:
        """Apply the settings form: model, system prompt, and each ``SETTINGS_PARAMS`` value
        (a string or number; empty unsets it). ConfigError names a bad parameter."""
        panel = self.panel
        params = dict(panel.params)
        for key in SETTINGS_PARAMS:
            if key in msg:
                params[key] = PARAMS[key].coerce(msg[key])
        with panel.hold_sync():
            if "model" in msg:
                panel.model = str(msg["model"] or "")
            if "system" in msg:
                panel.system = str(msg["system"] or "")
            panel.params = {k: v for k, v in params.items() if v is not None}

    def start(self) -> Turn:
        """Start a turn for the panel's conversation as it is (it ends with a user message)."""
        return self.launch(self.prepare(self.panel.messages))

    def prepare(self, history: list[dict[str, Any]]) -> Turn:
        """The turn that answers ``history``, not started: building its request checks the
        messages and parameters (ConfigError) before anything changes."""
        panel = self.panel
        params = {k: v for k, v in panel.params.items() if k in PARAM_NAMES and v is not None}
        try:
            return Turn(
                self.book.client(),
                prompt(history, panel.system),
                panel.model,
                params,
                self,
                snapshot_params=panel.sent_params(),
            )
        except BudgetExceeded as exc:  # refused before sending: shown, nothing appended
            with panel.hold_sync():
                panel.error = exc.message
                panel.budget = budget_state(panel.client)
            raise

    def launch(self, turn: Turn) -> Turn:
        self.turn = turn
        return turn.start()

    def stop(self) -> None:
        with self.lock:
            turn = self.turn
        if turn is not None and not turn.done:
            turn.stop()

    def snapshot(self, intent_id: Any) -> dict[str, Any]:
        """The ``snapshot`` answer: the text so far of the reply in progress (empty when idle)."""
        turn = self.turn
        if turn is None or turn.done:
            return {
                "type": "snapshot",
                "id": intent_id,
                "request_id": None,
                "seq": 0,
                "content": "",
            }
        seq, text = turn.snapshot()
        return {
            "type": "snapshot",
            "id": intent_id,
            "request_id": turn.request_id,
            "seq": seq,
            "content": text,
        }

    # -- the Sink protocol (nbchat.runs.turn.Sink) ---------------------------------------

    def begin(self, turn: Turn) -> None:
        panel = self.panel
        with panel.hold_sync():
            panel.streaming = {
                "id": turn.message_id,
                "request_id": turn.request_id,
                "model": turn.model,
                "created_at": turn.created_at,
            }
            panel.status = "streaming"
            panel.error = ""

    def delta(self, request_id: str, seq: int, text: str) -> None:
        self.panel.send_msg({"type": "delta", "request_id": request_id, "seq": seq, "text": text})

    def finish(self, message: dict[str, Any]) -> None:
        panel = self.panel
        message = self.book.commit(message)  # written to the store with its user message
        turn = self.turn
        if turn is not None and turn.reply is not None and turn.message_id == message["id"]:
            self.raws.keep(message["id"], turn.reply.raw)
        with panel.hold_sync():
            panel.budget = budget_state(panel.client)
            panel.pages, panel.recent = append(list(panel.pages), list(panel.recent), message)
            panel.streaming = {}
            panel.status = "error" if message["status"] == "error" else "idle"
            # An interrupted reply (partial text kept) shows its error too.
            panel.error = message["error"] or ""
