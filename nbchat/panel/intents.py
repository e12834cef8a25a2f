"""The front end's intents, answered the one way both widgets (ChatPanel, Compare) share.

Every intent carries an ``id`` and is answered with ``ack`` or ``error`` (STYLE.md 1.4), so no
front-end promise waits forever; intents answered by a message of their own (a snapshot, the
raw record) are listed in ``_answered_by_reply``. A page that (re)loads asks for the widget
state, which lacks the text of replies in progress: the runner's snapshot is sent unasked,
since the page's own snapshot-request can be lost (ipykernel#1557).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

__all__ = ["IntentDispatch"]


class IntentDispatch:
    """Mixin for an anywidget: ``send_msg``, the intent dispatcher and the reload snapshot.

    The widget class provides ``_dispatch`` (intent type -> handler) and ``_runner`` (with
    ``snapshot(intent_id)``).
    """

    _dispatch: ClassVar[dict[str, Callable[[Any, dict[str, Any]], None]]]
    _answered_by_reply: ClassVar[frozenset[str]] = frozenset({"snapshot-request"})
    comm: Any

    def send_msg(self, content: dict[str, Any]) -> None:
        if self.comm is not None:
            super().send(content)  # type: ignore[misc]

    def _handle_msg(self, msg: dict[str, Any]) -> None:
        super()._handle_msg(msg)  # type: ignore[misc]
        if msg.get("content", {}).get("data", {}).get("method") == "request_state":
            self.send_msg(self._runner.snapshot(None))  # type: ignore[attr-defined]

    def _on_custom_msg(self, _: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        handler = self._dispatch.get(str(content.get("type")))
        rid = content.get("id")
        if handler is None:
            self.send_msg({"type": "error", "id": rid, "message": "unknown message type"})
            return
        try:
            handler(self, content)
        except Exception as exc:  # always answer, so no front-end promise waits forever
            self.send_msg({"type": "error", "id": rid, "message": str(exc)})
            return
        if content.get("type") not in self._answered_by_reply:
            self.send_msg({"type": "ack", "id": rid})
