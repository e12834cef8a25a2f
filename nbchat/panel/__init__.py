"""The chat panel: the widget (``widget``), its sink for turns (``sink``), the paged
conversation (``pages``) and the message vocabulary shared with ``js/src/types.d.ts``
(``vocabulary``)."""

from nbchat.panel.widget import BusyError, ChatPanel

__all__ = ["BusyError", "ChatPanel"]
