"""The comparison's control: one turn per column per prompt, their sinks, votes, and results.

Each column keeps its own conversation (column A's history is never sent to model B); a prompt
starts one :class:`~nbchat.runs.turn.Turn` per column at once. Their deltas go through one
:class:`~nbchat.panel.compare_flush.DeltaBatcher` for the whole widget. Every trait write goes
through :meth:`CompareRunner.publish`, under the runner's lock and ``hold_sync``.

In blind mode each prompt shuffles the columns into slots (A, B, C...); the traits name no
model and the messages of that prompt carry no model or parameters until a vote reveals them,
and only the latest prompt is shown (earlier ones would tell the columns apart).
"""

from __future__ import annotations

import random
import string
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from nbchat._exceptions import NbchatError
from nbchat.data.store import write_turn
from nbchat.panel.compare_flush import DeltaBatcher
from nbchat.panel.pages import layout
from nbchat.panel.runner import BusyError
from nbchat.records import Message, Reply, new_id, now_iso
from nbchat.runs.columns import Column
from nbchat.runs.compare import row
from nbchat.runs.turn import Turn, prompt

__all__ = ["VOTE_KINDS", "CompareRunner", "Round"]

VOTE_KINDS = ("best", "tie", "bad")
#: Message fields hidden in a blind prompt until the vote.
_BLIND_FIELDS: dict[str, Any] = {"model": None, "api": None, "params": {}}


class Host(Protocol):
    """What the runner needs of :class:`~nbchat.Compare`."""

    slots: list[dict[str, Any]]
    pages: list[Any]
    recent: list[dict[str, Any]]
    streaming: list[dict[str, Any]]
    status: str

    def hold_sync(self) -> AbstractContextManager[Any]: ...

    def send_msg(self, content: dict[str, Any]) -> None: ...


@dataclass
class Round:
    """One prompt asked of every column. ``wait()`` gives each column's reply by label."""

    prompt_id: str
    prompt: str
    created_at: str
    #: order[slot] = the column shown in that slot.
    order: list[int]
    labels: list[str]
    replies: dict[int, dict[str, Any]] = field(default_factory=dict)
    turns: dict[int, Turn] = field(default_factory=dict)
    vote: dict[str, Any] | None = None
    revealed: bool = False

    def wait(self, timeout: float | None = None) -> dict[str, Reply]:
        """Block until every column's reply has finished; ``{label: Reply}``."""
        out: dict[str, Reply] = {}
        for c in sorted(self.turns):
            out[self.labels[c]] = self.turns[c].wait(timeout)
        return out

    def finished(self, c: int) -> bool:
        """Whether column ``c``'s reply is committed. Not ``Turn.done``: a turn is done only
        after its sink's ``finish`` returns, so two columns finishing together would each see
        the other still running."""
        t, m = self.turns.get(c), self.replies.get(c)
        return t is None or (m is not None and m.get("id") == t.message_id)

    @property
    def done(self) -> bool:
        return all(self.finished(c) for c in self.turns)

    @property
    def letters(self) -> list[str]:
        """The blind labels of the slots: A, B, C..."""
        return [string.ascii_uppercase[i % 26] for i in range(len(self.order))]

    def __repr__(self) -> str:
        state = "done" if self.done else "streaming"
        return f"<nbchat.Compare prompt {self.prompt_id[:8]} {state}>"


class _ColumnSink:
    """The sink of one column's turn (``nbchat.runs.turn.Sink``)."""

    def __init__(self, runner: CompareRunner, rnd: Round, column: int) -> None:
        self.runner, self.round, self.column = runner, rnd, column
        self.slot = rnd.order.index(column)

    def begin(self, turn: Turn) -> None:
        self.runner.publish(rounds=False)

    def delta(self, request_id: str, seq: int, text: str) -> None:
        item = {"slot": self.slot, "request_id": request_id, "seq": seq, "text": text}
        self.runner.batcher.add(item)

    def finish(self, message: dict[str, Any]) -> None:
        self.runner.finished(self, message)


class CompareRunner:
    """Runs a comparison's turns and keeps its rounds, histories and votes."""

    def __init__(self, host: Host, columns: list[Column], system: str, blind: bool) -> None:
        self.host = host
        self.columns = columns
        self.system = system
        self.blind = blind
        self.rounds: list[Round] = []
        self.histories: list[list[dict[str, Any]]] = [[] for _ in columns]
        #: Each column's stored conversation (None until its first turn is written).
        self.store_ids: list[str | None] = [None for _ in columns]
        self.lock = threading.RLock()
        self.batcher = DeltaBatcher(host.send_msg)
        #: Shuffles blind slots (tests seed it).
        self.rng = random.Random()

    @property
    def latest(self) -> Round | None:
        return self.rounds[-1] if self.rounds else None

    @property
    def busy(self) -> bool:
        return self.latest is not None and not self.latest.done

    def sent_params(self, c: int) -> dict[str, Any]:
        return {**self.columns[c].params, "system": self.system or None}

    # -- intents -------------------------------------------------------------------------

    def send(self, text: str) -> Round:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the message is empty")
        with self.lock:
            if self.busy:
                raise BusyError("replies are still streaming; stop them (cmp.stop()) first")
            order = list(range(len(self.columns)))
            if self.blind:
                self.rng.shuffle(order)
            labels = [c.label for c in self.columns]
            rnd = Round(new_id(), text, now_iso(), order, labels)
            self.rounds.append(rnd)
            for c, col in enumerate(self.columns):
                user = Message.user(text, model=col.model, api=col.client.api, params={})
                self.histories[c].append(user.to_dict())
            self.publish()
            self.batcher.start()
            for c in range(len(self.columns)):
                self._start(rnd, c)
        return rnd

    def retry(self, slot: int) -> Round:
        """Ask the column in ``slot`` the latest prompt again, replacing its reply."""
        with self.lock:
            rnd = self.latest
            if rnd is None:
                raise NbchatError("nothing to retry: no prompt was sent")
            if not 0 <= slot < len(rnd.order):
                raise NbchatError(f"no column in slot {slot}")
            c = rnd.order[slot]
            old = rnd.turns.get(c)
        if old is not None and not old.done:
            old.stop()  # outside the lock: its finish() takes the lock
        with self.lock:
            reply = rnd.replies.pop(c, None)
            hist = self.histories[c]
            if reply is not None and hist and hist[-1].get("id") == reply.get("id"):
                hist.pop()
            rnd.vote = None
            self.publish()
            self.batcher.start()
            self._start(rnd, c)
        return rnd

    def stop(self) -> None:
        with self.lock:
            turns = [t for t in self.latest.turns.values() if not t.done] if self.latest else []
        for t in turns:
            t.stop()

    def vote(self, kind: str, slot: int = -1) -> None:
        if kind not in VOTE_KINDS:
            raise NbchatError(f"a vote is one of {VOTE_KINDS}, not {kind!r}")
        with self.lock:
            rnd = self.latest
            if rnd is None:
                raise NbchatError("nothing to vote on: no prompt was sent")
            if not rnd.done:
                raise BusyError("vote once every reply has finished")
            if kind == "best" and not 0 <= slot < len(rnd.order):
                raise NbchatError(f"no column in slot {slot}")
            rnd.vote = {"kind": kind, "slot": slot if kind == "best" else -1}
            rnd.revealed = True
            self.publish()

    def snapshot(self, intent_id: Any) -> dict[str, Any]:
        """Each streaming slot's text so far (what a view that missed deltas catches up from)."""
        items = []
        rnd = self.latest
        if rnd is not None:
            for c, turn in list(rnd.turns.items()):
                if not turn.done:
                    seq, text = turn.snapshot()
                    slot = rnd.order.index(c)
                    rid = turn.request_id
                    items.append({"slot": slot, "request_id": rid, "seq": seq, "content": text})
        return {"type": "snapshot", "id": intent_id, "items": items}

    # -- turns ---------------------------------------------------------------------------

    def _start(self, rnd: Round, c: int) -> None:
        col = self.columns[c]
        sink = _ColumnSink(self, rnd, c)
        try:
            turn = Turn(
                col.client,
                prompt(self.histories[c], self.system or None),
                col.model,
                col.params,
                sink,
                snapshot_params=self.sent_params(c),
            )
        except Exception as exc:  # e.g. a budget refusal: this column fails, the others go on
            turn = _FailedTurn(col.model, self.sent_params(c), exc, sink)
        rnd.turns[c] = turn
        turn.start()

    def finished(self, sink: _ColumnSink, message: dict[str, Any]) -> None:
        self.batcher.flush()  # the column's last text goes before its commit
        rnd, c = sink.round, sink.column
        with self.lock:
            turn = rnd.turns.get(c)
            if turn is None or turn.message_id != message.get("id"):
                return  # a replaced turn (retried) that ended late
            rnd.replies[c] = message
            self.histories[c].append(message)
            self._store(c, message)
            if rnd.done and rnd is self.latest:
                self.batcher.stop()
            self.publish()

    def _store(self, c: int, reply: dict[str, Any]) -> None:
        """Write column ``c``'s finished turn (its prompt, then this reply) to the store: one
        stored conversation per column, as each column keeps its own (issue 14)."""
        hist = self.histories[c]
        if len(hist) < 2:
            return
        user = dict(hist[-2])
        if user.get("parent_id") is None and len(hist) >= 3:
            user["parent_id"] = hist[-3].get("id")  # the column's previous reply
        self.store_ids[c] = write_turn(
            [user, {**reply, "parent_id": user.get("id")}],
            conversation_id=self.store_ids[c],
            source="compare",
        )

    # -- state ---------------------------------------------------------------------------

    def publish(self, *, rounds: bool = True) -> None:
        """Write the traits from the rounds (under the lock, in one ``hold_sync``)."""
        host = self.host
        dropped: list[Any] = []
        with self.lock, host.hold_sync():
            rnd = self.latest
            order = rnd.order if rnd else list(range(len(self.columns)))
            hidden = self.blind and rnd is not None and not rnd.revealed
            streaming: list[dict[str, Any]] = []
            for c in order:
                t = rnd.turns.get(c) if rnd else None
                if t is not None and rnd is not None and not rnd.finished(c):
                    streaming.append({"id": t.message_id, "request_id": t.request_id})
                else:
                    streaming.append({})
            host.streaming = streaming
            host.status = "streaming" if any(streaming) else "idle"
            if rounds:
                host.slots = [self._slot(i, c, hidden) for i, c in enumerate(order)]
                shown = self.rounds[-1:] if self.blind else self.rounds
                states = [self._round_state(r) for r in shown]
                host.pages, host.recent, dropped = layout(list(host.pages), states)
        for page in dropped:
            page.close()

    def _slot(self, i: int, c: int, hidden: bool) -> dict[str, Any]:
        col = self.columns[c]
        label = string.ascii_uppercase[i % 26] if self.blind else col.label
        if hidden:
            return {"label": label, "name": "", "model": "", "params": {}, "hidden": True}
        return {
            "label": label,
            "name": col.label,
            "model": col.model,
            "params": dict(col.params),
            "hidden": False,
        }

    def _round_state(self, rnd: Round) -> dict[str, Any]:
        hide = self.blind and not rnd.revealed
        replies: list[dict[str, Any] | None] = []
        for c in rnd.order:
            m = rnd.replies.get(c)
            replies.append(None if m is None else ({**m, **_BLIND_FIELDS} if hide else m))
        return {
            "id": rnd.prompt_id,
            "prompt_id": rnd.prompt_id,
            "prompt": rnd.prompt,
            "created_at": rnd.created_at,
            "replies": replies,
            "vote": rnd.vote,
        }

    def rows(self) -> list[dict[str, Any]]:
        """One result row per prompt x column that has a finished reply."""
        with self.lock:
            out = []
            for rnd in self.rounds:
                for c, col in enumerate(self.columns):
                    if c not in rnd.replies:
                        continue
                    slot = rnd.order.index(c)
                    out.append(
                        row(
                            prompt_id=rnd.prompt_id,
                            prompt=rnd.prompt,
                            column=col,
                            message=rnd.replies[c],
                            created_at=rnd.created_at,
                            shown_as=string.ascii_uppercase[slot % 26] if self.blind else None,
                            vote=_row_vote(rnd.vote, slot),
                        )
                    )
            return out

    def close(self) -> None:
        self.stop()
        self.batcher.stop()


def _row_vote(vote: dict[str, Any] | None, slot: int) -> str | None:
    if vote is None:
        return None
    if vote["kind"] == "best":
        return "win" if vote["slot"] == slot else "loss"
    return "tie" if vote["kind"] == "tie" else "bad"


class _FailedTurn(Turn):
    """A column whose request could not even be built: it ends at once, in the error state."""

    def __init__(self, model: str, params: dict[str, Any], exc: Exception, sink: Any) -> None:
        self.request_id, self.message_id, self.created_at = new_id(), new_id(), now_iso()
        self.model, self.params, self._sink = model, params, sink
        self.exception = exc
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._text, self._seq = [], 0
        self.reply = Reply(content="", status="error", error=str(exc), model=model)
        self.message = None

    def start(self) -> Turn:
        assert self.reply is not None
        self.message = Message.from_reply(
            self.reply,
            message_id=self.message_id,
            request_id=self.request_id,
            created_at=self.created_at,
            model=self.model,
            params=self.params,
        ).to_dict()
        self._sink.finish(self.message)
        self._done.set()
        return self

    def stop(self, timeout: float = 0) -> None:
        return None
