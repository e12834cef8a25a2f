"""``batch(..., store=True)``: every finished row written to the conversation store.

One stored conversation per run; each row is an exchange of its own in it (its prompt, then
its reply), since rows are independent requests. Rows served from the cache are not written
again (they were when they were first answered). Never a key: the messages and the reply's
fields only (``nbchat.data.store``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nbchat.data.store import write_turn
from nbchat.records import Message, Reply, Usage, new_id, now_iso

if TYPE_CHECKING:
    from nbchat.runs.batch.jobs import Job, Result
    from nbchat.runs.batch.plan import Plan

__all__ = ["RowStore"]


def _text(content: Any) -> str:
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


class RowStore:
    """Writes each finished row of one run; the first write creates the run's conversation."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.conversation_id: str | None = None

    def write(self, job: Job, result: Result) -> None:
        if result.status == "cancelled":
            return
        plan = self.plan
        usage = None
        if any(v is not None for v in (result.prompt_tokens, result.completion_tokens)):
            usage = Usage(result.prompt_tokens, result.completion_tokens, result.total_tokens)
        reply = Reply(
            content=result.content or "",
            finish_reason=result.finish_reason,
            usage=usage,
            status=result.status,
            model=result.model or plan.model,
            ttft=result.ttft,
            latency=result.latency,
            error=result.error,
            api=plan.client.api,
            cost=result.cost,
        )
        for row in job.rows:
            sent = plan.messages[row] or []
            system = next((m.get("content") for m in sent if m.get("role") == "system"), None)
            last = next((m for m in reversed(sent) if m.get("role") == "user"), None)
            params = {**plan.params, "system": system}
            user = Message.user(
                _text(last.get("content")) if last else "",
                model=plan.model,
                api=plan.client.api,
                params=params,
            ).to_dict()
            answer = Message.from_reply(
                reply,
                message_id=new_id(),
                request_id=job.key,
                created_at=now_iso(),
                model=plan.model,
                params=params,
            ).to_dict()
            # one write per row: write_turn chains what it is given, and rows are not a chain
            self.conversation_id = write_turn(
                [user, {**answer, "parent_id": user["id"]}],
                conversation_id=self.conversation_id,
                source="batch",
            )
