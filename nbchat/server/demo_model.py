"""Deterministic offline demo model: tokenizer, teaching replies, echo and bench modes.

Pure functions, no I/O, no randomness and no clock: the same conversation always
produces the same reply. One tokenizer counts prompt tokens and splits the reply
into the pieces that the server streams, so ``completion`` tokens equal the
number of streamed pieces.

Examples
--------
>>> reply = generate([{"role": "user", "content": "What is a token?"}])
>>> reply.finish_reason
'stop'
>>> "".join(tokenize("Hello, world")) == "Hello, world"
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nbchat.server import demo_json
from nbchat.server.demo_topics import FALLBACK as _FALLBACK
from nbchat.server.demo_topics import TOPICS as _TOPICS
from nbchat.server.demo_topics import Topic as _Topic

__all__ = [
    "Reply",
    "compose_reply",
    "count_prompt_tokens",
    "generate",
    "tokenize",
]

Message = Mapping[str, object]
"""A chat message: ``{"role": str, "content": str | None}`` (extra keys ignored)."""

_TOKEN_RE = re.compile(r"\s*\w{1,6}|\s*[^\w\s]|\s+")
_NAME_RE = re.compile(r"\bmy name is\s+([^\W\d_][\w'-]{0,40})", re.IGNORECASE)
_BRIEF_WORDS = ("terse", "brief", "short", "concise", "succinct")
BENCH_PIECE = "tok "
"""The text of every event sent by the ``bench`` model."""


def tokenize(text: str) -> list[str]:
    """Split text into token pieces that concatenate back to the input.

    Leading whitespace is attached to the next word or punctuation mark, each
    punctuation mark is its own piece, words longer than 6 characters are split
    into pieces of at most 6 characters, and trailing whitespace is one piece.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    list of str
        Pieces with ``"".join(pieces) == text``.
    """
    return _TOKEN_RE.findall(text)


def count_prompt_tokens(messages: Sequence[Message]) -> int:
    """Count prompt tokens like a chat API: 4 per message plus its content, plus 3.

    Parameters
    ----------
    messages : sequence of mapping
        The whole conversation as sent, so the count grows with history.

    Returns
    -------
    int
        The number of prompt tokens.
    """
    total = 3
    for message in messages:
        total += len(tokenize(_content(message))) + 4
    return total


@dataclass(frozen=True)
class Reply:
    """A generated reply, already split into streamable pieces.

    Attributes
    ----------
    pieces : tuple of str
        The token pieces, one per streamed event.
    finish_reason : str
        ``"stop"`` or ``"length"`` (cut by ``max_tokens``).
    prompt_tokens : int
        Tokens in the request (see `count_prompt_tokens`).
    """

    pieces: tuple[str, ...]
    finish_reason: str
    prompt_tokens: int

    @property
    def text(self) -> str:
        """The full reply text."""
        return "".join(self.pieces)

    @property
    def completion_tokens(self) -> int:
        """The number of pieces."""
        return len(self.pieces)

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


def generate(
    messages: Sequence[Message],
    *,
    model: str = "demo",
    max_tokens: int | None = None,
    stop: Sequence[str] = (),
    chunks: int | None = None,
    json_schema: Mapping[str, object] | None = None,
) -> Reply:
    """Produce the reply of the demo model for a conversation.

    Parameters
    ----------
    messages : sequence of mapping
        The conversation, oldest first.
    model : str
        ``"echo"`` repeats the last user message verbatim, ``"bench"`` sends
        `chunks` pieces of ``"tok "``; any other name is the teaching demo model.
    max_tokens : int, optional
        Keep at most this many pieces; the finish reason is then ``"length"``.
    stop : sequence of str
        Cut the reply before the first occurrence of any of these strings.
    chunks : int, optional
        Number of pieces for the ``bench`` model (default 100).
    json_schema : mapping, optional
        Answer with a JSON object matching this schema (OpenAI ``response_format``); the
        demo model also does so when a system message carries one (see
        `nbchat.server.demo_json`).

    Returns
    -------
    Reply
        The pieces, finish reason and prompt token count.
    """
    if model == "bench":
        pieces = [BENCH_PIECE] * (100 if chunks is None else chunks)
        text = "".join(pieces)
    else:
        text = _last_user(messages) if model == "echo" else _demo_text(messages, json_schema)
        pieces = []
    cut = _cut_at_stop(text, stop)
    if cut != text or not pieces:
        pieces = tokenize(cut)
    finish_reason = "stop"
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces = pieces[:max_tokens]
        finish_reason = "length"
    return Reply(tuple(pieces), finish_reason, count_prompt_tokens(messages))


def _demo_text(messages: Sequence[Message], json_schema: Mapping[str, object] | None) -> str:
    schema = json_schema if json_schema is not None else demo_json.schema_in(messages)
    if schema is None:
        return compose_reply(messages)
    question = _last_user(messages)
    topic = _find_topic(question)
    return demo_json.answer(schema, question, topic.name, topic.summary)


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    positions = [text.find(s) for s in stop if s]
    found = [p for p in positions if p >= 0]
    return text[: min(found)] if found else text


def _content(message: Message) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def _last_user(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _content(message)
    return _content(messages[-1]) if messages else ""


# --------------------------------------------------------------------------- knowledge

_GREETING, _CAPABILITIES = _TOPICS[-1], _TOPICS[-2]


def _find_topic(text: str) -> _Topic:
    lowered = text.lower()
    for topic in _TOPICS:
        for keyword in topic.keywords:
            if re.search(r"\b" + keyword, lowered):
                return topic
    return _FALLBACK


def _system_prompt(messages: Sequence[Message]) -> str:
    return "\n".join(_content(m) for m in messages if m.get("role") in ("system", "developer"))


def _user_name(messages: Sequence[Message]) -> str | None:
    name = None
    for message in messages:
        if message.get("role") == "user":
            for match in _NAME_RE.finditer(_content(message)):
                name = match.group(1)
    return name


def _quote(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def compose_reply(messages: Sequence[Message]) -> str:
    """Write the teaching reply for the last user message of a conversation.

    The reply is chosen by topic keywords in the last user message and adapts to
    the context: it greets the user by name (``"my name is N"``), counts the turns,
    refers back to the previous question, and follows a system prompt asking for
    brief answers.

    Parameters
    ----------
    messages : sequence of mapping
        The conversation, oldest first.

    Returns
    -------
    str
        Markdown text.
    """
    users = [_content(m) for m in messages if m.get("role") == "user"]
    question = users[-1] if users else ""
    topic = _find_topic(question)
    system = _system_prompt(messages)
    name = _user_name(messages)
    brief = any(word in system.lower() for word in _BRIEF_WORDS)

    if brief:
        text = topic.summary
        if system and topic.name == "system prompts":
            text = f'I am following your system prompt ("{_quote(system)}"), so I keep it short.'
        if name:
            text = f"{name}, {text[0].lower()}{text[1:]}"
        return text

    parts: list[str] = []
    if _NAME_RE.search(question) and name:
        parts.append(f"Nice to meet you, **{name}**!")
    elif name:
        parts.append(f"Good question, **{name}**.")
    if topic not in (_FALLBACK, _GREETING, _CAPABILITIES):
        parts.append(f"**About {topic.name}:** {topic.summary}")
    parts.append(topic.body)
    if system and topic.name == "system prompts":
        parts.append(f'I am following your system prompt: *"{_quote(system)}"*.')
    parts.append(_context_note(users))
    return "\n\n".join(parts)


def _context_note(users: Sequence[str]) -> str:
    turn = len(users)
    note = f"_Turn {turn} of our conversation."
    if turn > 1:
        previous = _find_topic(users[-2])
        about = previous.name if previous is not _FALLBACK else f'"{_quote(users[-2])}"'
        note += f" Earlier you asked about {about}."
    return note + "_"
