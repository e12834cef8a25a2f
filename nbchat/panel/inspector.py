"""The panel's view of money and of the wire: ``chat.raw(i)``, the Raw view's intent, the budget.

* Raw records (:class:`~nbchat.raw.Raw`) of the replies received in this kernel are kept here,
  by message id (the newest :data:`RAW_KEPT`: each holds its whole request body, and the
  history grows every turn). They are never synced: the front end asks for one with a
  ``raw-request`` intent when a person opens a reply's Raw view, and gets one ``raw`` answer.
* ``ChatPanel(budget=...)`` sets the client's :class:`~nbchat.client.budget.Budget`; the
  ``budget`` trait shows the limit, what was spent and what remains (``{}`` without a budget).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from nbchat.client.budget import Budget

if TYPE_CHECKING:
    from nbchat.client import Client
    from nbchat.raw import Raw

__all__ = ["RAW_KEPT", "InspectorMethods", "RawStore", "budget_state", "set_budget"]

#: Raw records kept per panel (the newest replies').
RAW_KEPT = 100


class RawStore:
    """Raw records by message id, the newest RAW_KEPT."""

    def __init__(self, kept: int = RAW_KEPT) -> None:
        self._raws: OrderedDict[str, Raw] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()

    def keep(self, message_id: str, raw: Raw | None) -> None:
        if raw is None:
            return
        with self._lock:
            self._raws[message_id] = raw
            while len(self._raws) > self._kept:
                self._raws.popitem(last=False)

    def get(self, message_id: str) -> Raw | None:
        with self._lock:
            return self._raws.get(message_id)


def set_budget(client: Client, budget: float | None) -> dict[str, float]:
    """``ChatPanel(budget=...)``: the client's spending limit (None keeps the client's own);
    returns the ``budget`` trait's value."""
    if budget is not None:
        client.budget = Budget(budget)
    return budget_state(client)


def budget_state(client: Client) -> dict[str, float]:
    """The ``budget`` trait: limit, spent and remaining in USD, or empty without a budget."""
    return client.budget.to_dict() if client.budget is not None else {}


class InspectorMethods:
    """``raw(i)`` and the ``raw-request`` intent, for :class:`~nbchat.ChatPanel`."""

    messages: list[dict[str, Any]]
    _runner: Any

    def raw(self, i: int) -> Raw:
        """What went over the wire for the reply at position ``i`` of ``messages``: the request
        (the whole re-sent history, key as ``***``), its attempts and the response events.

        Kernel only: never synced or stored. ``print(chat.raw(i).to_text())`` shows it;
        ``.to_dict()`` is the JSON form, ``.curl()`` the request as a curl command.
        """
        msgs = self.messages
        try:
            msg = msgs[i]
        except (IndexError, TypeError):
            raise IndexError(f"no message {i!r}: the conversation has {len(msgs)}") from None
        if msg.get("role") != "assistant":
            raise LookupError(f"message {i} is a {msg.get('role')} message; replies have raw")
        raw = self._runner.raws.get(str(msg.get("id")))
        if raw is None:
            raise LookupError(
                f"no raw record for message {i}: only the newest {RAW_KEPT} replies received "
                "in this kernel have one (not those loaded, restored or stored)"
            )
        result: Raw = raw
        return result

    def _raw_answer(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The ``raw`` answer to a ``raw-request`` intent (an error answer if there is none)."""
        message_id = str(msg.get("message_id"))
        index = next((i for i, m in enumerate(self.messages) if m.get("id") == message_id), None)
        if index is None:
            raise LookupError("that reply is no longer in the conversation")
        raw = self.raw(index)
        return {"type": "raw", "id": msg.get("id"), "message_id": message_id, **raw.to_dict()}
