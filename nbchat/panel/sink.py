"""The panel's side of a turn: the sink a :class:`~nbchat.runs.turn.Turn` writes to, and the
snapshot a view that missed deltas catches up from.

Every trait write of a streaming turn goes through here, batched with ``hold_sync``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbchat.panel.pages import append

if TYPE_CHECKING:
    from nbchat.panel.widget import ChatPanel
    from nbchat.runs.turn import Turn

__all__ = ["PanelSink", "snapshot_message"]


class PanelSink:
    """Feeds one panel: ``streaming``/``status`` on begin, ``delta`` messages, one commit."""

    def __init__(self, panel: ChatPanel) -> None:
        self.panel = panel

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
        with panel.hold_sync():
            panel.pages, panel.recent = append(list(panel.pages), list(panel.recent), message)
            panel.streaming = {}
            panel.status = "error" if message["status"] == "error" else "idle"
            # An interrupted reply (partial text kept) shows its error too.
            panel.error = message["error"] or ""


def snapshot_message(turn: Turn | None, request_id: Any) -> dict[str, Any]:
    """The ``snapshot`` answer: the text so far of the reply in progress (empty when idle)."""
    if turn is None or turn.done:
        return {"type": "snapshot", "id": request_id, "request_id": None, "seq": 0, "content": ""}
    seq, text = turn.snapshot()
    return {
        "type": "snapshot",
        "id": request_id,
        "request_id": turn.request_id,
        "seq": seq,
        "content": text,
    }
