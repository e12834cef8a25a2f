"""``Client(store=True)``: a bare client's exchanges go to the conversation store
(``nbchat.data.store``), one stored conversation per client, each exchange a turn (the last user
message of the request and the reply). Panels and ``%%chat`` store their own turns (with names
and branches), so a panel runs its turns on an unstored copy of its client.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

from nbchat.client.stream import Stream
from nbchat.data.store import write_turn
from nbchat.records import Message, Reply, ReplyStatus, new_id, now_iso

if TYPE_CHECKING:
    import requests

    from nbchat.client.request import Request

__all__ = ["StoreLog", "StoredStream"]


class StoreLog:
    """Where one client's exchanges go: its conversation, chained message by message."""

    def __init__(self) -> None:
        self.conversation_id = new_id()
        self.last_id: str | None = None
        self.lock = threading.Lock()

    def write(self, request: Request, reply: Reply, sent_at: str) -> None:
        users = [m for m in request.payload.get("messages") or () if m.get("role") == "user"]
        content = users[-1].get("content") if users else ""
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        user = Message.user(text, model=request.model, api=request.api, params={}).to_dict()
        user["created_at"] = sent_at
        answer = Message.from_reply(
            reply,
            message_id=new_id(),
            request_id=new_id(),
            created_at=sent_at,
            model=request.model,
            params={},
        ).to_dict()
        with self.lock:
            user["parent_id"], answer["parent_id"] = self.last_id, user["id"]
            write_turn([user, answer], conversation_id=self.conversation_id, source="client")
            self.last_id = answer["id"]


class StoredStream(Stream):
    """A Stream that writes its exchange to the store once, when its reply is final."""

    def __init__(self, request: Request, session: requests.Session, log: StoreLog) -> None:
        super().__init__(request, session)
        self._store_log = log
        self._sent_at = now_iso()

    def _end(self, status: ReplyStatus, error: str | None = None) -> Reply:
        first = self.reply is None
        reply = super()._end(status, error)
        if first:
            self._store_log.write(self.request, reply, self._sent_at)
        return reply

    def __repr__(self) -> str:
        return super().__repr__().replace("<nbchat.Stream", "<nbchat.Stream (stored)", 1)
