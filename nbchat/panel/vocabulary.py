"""The widget's message vocabulary, mirrored in ``js/src/types.d.ts``.

State lives in synced traits (the conversation as ``pages`` + ``recent``, see
``nbchat.panel.pages``; ``status``, ``streaming``, ``model``, ``system``, ``params``, ``backend``,
``error``). Custom messages carry only intents (front end -> kernel) and streamed text
(kernel -> front end). Every intent carries an ``id``; the kernel always answers it with
``ack`` or ``error``.

The text of the reply in progress is *not* a trait: re-sending it on every update would cost
O(n^2) bytes. The kernel sends ``delta`` messages numbered by ``seq`` within a ``request_id``; a
view that opens mid-stream or sees a gap asks for a ``snapshot``.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from nbchat.records import MessageStatus

PanelStatus = Literal["idle", "streaming", "error"]


class ChatMessage(TypedDict):
    """One message of the conversation (``ChatPanel.messages``; synced in pages and ``recent``).

    The dict form of :class:`nbchat.records.Message` (``Message.to_dict()``): the same fields in
    the same order, checked by ``tests/test_records.py``, as is ``ChatMessage`` in types.d.ts.
    """

    id: str
    role: Literal["user", "assistant", "system"]
    content: str
    status: MessageStatus
    model: str | None
    api: str | None
    params: dict[str, Any]
    usage: dict[str, int | None] | None
    ttft: float | None
    latency: float | None
    tokens_per_second: float | None
    finish_reason: str | None
    error: str | None
    created_at: str
    request_id: str | None
    tool_request: dict[str, Any] | None
    parent_id: str | None
    branches: list[str] | None
    cost: float | None
    request_bytes: int | None
    price_source: str | None
    tool_calls: list[dict[str, Any]] | None


class Streaming(TypedDict, total=False):
    """The ``streaming`` trait: the reply in progress (empty dict when idle)."""

    id: str
    request_id: str
    model: str
    created_at: str


# ---- front end -> kernel -------------------------------------------------------------


class SendIntent(TypedDict):
    type: Literal["send"]
    id: str
    text: str


class StopIntent(TypedDict):
    type: Literal["stop"]
    id: str


class RetryIntent(TypedDict):
    type: Literal["retry"]
    id: str


class ClearIntent(TypedDict):
    type: Literal["clear"]
    id: str


class UndoClearIntent(TypedDict):
    """Put back the messages the last ``clear`` removed (only while the chat is still empty)."""

    type: Literal["undo-clear"]
    id: str


class EditIntent(TypedDict):
    """Send ``text`` as a new version of user message ``message_id`` (a new branch)."""

    type: Literal["edit"]
    id: str
    message_id: str
    text: str


class SwitchBranchIntent(TypedDict):
    """Show the branch through ``message_id`` (one of a message's ``branches``)."""

    type: Literal["switch-branch"]
    id: str
    message_id: str


class SnapshotRequest(TypedDict):
    type: Literal["snapshot-request"]
    id: str


class RawRequest(TypedDict):
    """Ask for reply ``message_id``'s raw record (sent when its Raw view opens): answered with
    ``raw`` (or ``error``), never ``ack``. The record lives in the kernel until asked for."""

    type: Literal["raw-request"]
    id: str
    message_id: str


class SettingsIntent(TypedDict):
    """The settings form: each parameter with ``PARAMS[name].in_settings`` may be sent."""

    type: Literal["settings"]
    id: str
    model: NotRequired[str]
    system: NotRequired[str]
    temperature: NotRequired[float | None]
    max_tokens: NotRequired[int | None]


Intent = (
    SendIntent
    | StopIntent
    | RetryIntent
    | ClearIntent
    | UndoClearIntent
    | SnapshotRequest
    | SettingsIntent
    | EditIntent
    | SwitchBranchIntent
    | RawRequest
)

INTENT_TYPES: tuple[str, ...] = (
    "send",
    "stop",
    "retry",
    "clear",
    "undo-clear",
    "snapshot-request",
    "settings",
    "edit",
    "switch-branch",
    "raw-request",
)

# ---- kernel -> front end -------------------------------------------------------------


class DeltaMessage(TypedDict):
    type: Literal["delta"]
    request_id: str
    seq: int
    text: str


class SnapshotMessage(TypedDict):
    type: Literal["snapshot"]
    id: str | None
    request_id: str | None
    seq: int
    content: str


class AckMessage(TypedDict):
    type: Literal["ack"]
    id: str


class ErrorMessage(TypedDict):
    type: Literal["error"]
    id: str | None
    message: str


class RawMessage(TypedDict):
    """The answer to ``raw-request``: ``nbchat.raw.Raw.to_dict()`` (secrets as ``***``; ``curl``
    names ``$SPELLBOOK_API_KEY`` / ``$OPENAI_API_KEY``, never the key)."""

    type: Literal["raw"]
    id: str | None
    message_id: str
    attempts: list[dict[str, Any]]
    events: list[dict[str, Any]]
    event_count: int
    omitted: int
    bytes: int
    curl: str


KernelMessage = DeltaMessage | SnapshotMessage | AckMessage | ErrorMessage | RawMessage

KERNEL_MESSAGE_TYPES: tuple[str, ...] = ("delta", "snapshot", "ack", "error", "raw")
