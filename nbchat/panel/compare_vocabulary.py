"""The comparison widget's message vocabulary, mirrored in ``js/src/compare-types.d.ts``.

State lives in synced traits (``slots``, the prompts as ``pages`` + ``recent`` like the chat
panel's messages (``nbchat.panel.pages``), ``streaming``, ``status``, ``blind``, ``system``,
``backend``). The front end addresses columns by **slot**, the position
a column is shown at: in blind mode the kernel shuffles columns into slots per prompt and names
no model until the vote, so nothing the page receives tells which model is which.

Streamed text is not a trait. One flusher per widget sends ``deltas``: every column's pending
text in one message (``items``, each numbered by ``seq`` within its ``request_id``), so the
widget sends a bounded number of updates per second however many columns stream. A view that
opens mid-stream or sees a gap asks for a ``snapshot`` of every streaming column.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from nbchat.panel.vocabulary import ChatMessage

CompareStatus = Literal["idle", "streaming"]


class Slot(TypedDict):
    """One shown column. ``label``: its title (a letter in blind mode); ``name``: the
    column's label (``nbchat.runs.columns``), ``model`` and ``params``: empty while hidden."""

    label: str
    name: str
    model: str
    params: dict[str, Any]
    hidden: bool


class Vote(TypedDict):
    """``best`` (of ``slot``), ``tie`` or ``bad`` (all bad); ``slot`` is -1 but for ``best``."""

    kind: Literal["best", "tie", "bad"]
    slot: int


class RoundState(TypedDict):
    """One prompt and each slot's reply (None while it streams). ``id`` is ``prompt_id``."""

    id: str
    prompt_id: str
    prompt: str
    created_at: str
    replies: list[ChatMessage | None]
    vote: Vote | None


class StreamingSlot(TypedDict, total=False):
    """``streaming[slot]``: the reply in progress in that slot, or empty."""

    id: str
    request_id: str


# ---- front end -> kernel -------------------------------------------------------------


class SendIntent(TypedDict):
    type: Literal["send"]
    id: str
    text: str


class StopIntent(TypedDict):
    type: Literal["stop"]
    id: str


class RetryIntent(TypedDict):
    """Ask the column shown in ``slot`` again (the latest prompt), and only that column."""

    type: Literal["retry"]
    id: str
    slot: int


class VoteIntent(TypedDict):
    type: Literal["vote"]
    id: str
    kind: Literal["best", "tie", "bad"]
    slot: int


class SnapshotRequest(TypedDict):
    type: Literal["snapshot-request"]
    id: str


INTENT_TYPES: tuple[str, ...] = ("send", "stop", "retry", "vote", "snapshot-request")

# ---- kernel -> front end -------------------------------------------------------------


class DeltaItem(TypedDict):
    slot: int
    request_id: str
    seq: int
    text: str


class DeltasMessage(TypedDict):
    type: Literal["deltas"]
    items: list[DeltaItem]


class SnapshotItem(TypedDict):
    slot: int
    request_id: str
    seq: int
    content: str


class SnapshotMessage(TypedDict):
    type: Literal["snapshot"]
    id: str | None
    items: list[SnapshotItem]


class AckMessage(TypedDict):
    type: Literal["ack"]
    id: str


class ErrorMessage(TypedDict):
    type: Literal["error"]
    id: str | None
    message: str


KERNEL_MESSAGE_TYPES: tuple[str, ...] = ("deltas", "snapshot", "ack", "error")
