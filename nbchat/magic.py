"""IPython magics: ``%%chat`` sends the cell to a model and streams the reply into the output.

::

    %load_ext nbchat

    %%chat --system "You are a patient teacher."
    What is a token?

    %chat And why does the prompt grow?      # the line magic sends the rest of the line

    %chat_history          # the conversation as a DataFrame (%chat_history usage: token usage)

Options of ``%%chat`` (they stick for later cells until changed): ``--model M``,
``--system S``, ``--api egp|openai``, ``--base-url URL``, one option per generation parameter
(``--temperature T``, ``--max-tokens N``, ... from ``nbchat.records.PARAMS``; an empty value
unsets it). ``--new`` starts a new conversation (a cell holding only ``%%chat --new`` just
resets); ``-o NAME`` stores the :class:`~nbchat.Reply` in the variable ``NAME``; ``--raw``
prints what went over the wire after the reply (``Reply.raw.to_text()``, key as ``***``).
With no API key configured (and no ``--base-url``) the embedded offline demo server answers,
as in :class:`~nbchat.ChatPanel`.

This module is a front over ``nbchat.runs``: the turn runner streams the reply in the cell's own
thread (:meth:`~nbchat.runs.turn.Turn.run`), so the cell is the thing being run and the stop
button keeps the partial text. An API error fails the cell after the partial reply is shown, so
"Run All" and nbval stop there. The conversation is kept per IPython shell
(:func:`conversation`), as message dicts of the panel's shape.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from nbchat._exceptions import ConfigError, NbchatError
from nbchat.client import Client
from nbchat.data.store import write_turn
from nbchat.records import PARAMS, Message, new_id
from nbchat.runs.defaults import DEMO_MODEL, default_client, resolve_model
from nbchat.runs.turn import Turn, prompt

__all__ = ["chat", "chat_history", "conversation", "load_ipython_extension", "reset"]


@dataclass
class _Session:
    """One shell's conversation and settings."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    system: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    api: str = "egp"
    base_url: str | None = None
    client: Client | None = None
    demo: bool = False
    #: Why no model could be chosen (``resolve_model``), for the "no model set" error.
    model_note: str = ""
    #: Where its turns go in the store (``nbchat.logs()``); ``--new`` starts another.
    conversation_id: str = field(default_factory=new_id)


_sessions: dict[int, _Session] = {}


def _shell_key(shell: Any = None) -> int:
    if shell is None:
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:  # pragma: no cover - IPython is a dependency of ipywidgets
            shell = None
    return id(shell) if shell is not None else 0


def _session(shell: Any = None) -> _Session:
    return _sessions.setdefault(_shell_key(shell), _Session())


def conversation(shell: Any = None) -> list[dict[str, Any]]:
    """The ``%%chat`` conversation of this IPython shell (a copy of the message dicts)."""
    return [dict(m) for m in _session(shell).messages]


def reset(shell: Any = None) -> None:
    """Forget this shell's conversation and settings (``%%chat --new`` keeps the settings)."""
    _sessions.pop(_shell_key(shell), None)


# ---- arguments --------------------------------------------------------------------------


class _ArgError(NbchatError, ValueError):
    """The ``%%chat`` line could not be parsed (shown as a UsageError in IPython)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise _ArgError(f"{self.prog}: {message}\n{self.format_usage()}")


def _parser(prog: str, words: bool) -> _Parser:
    p = _Parser(prog=prog, add_help=False)
    p.add_argument("--model", "-m")
    p.add_argument("--system", "-s")
    p.add_argument("--new", action="store_true", help="start a new conversation")
    p.add_argument("--api", choices=("egp", "openai"))
    p.add_argument("--base-url", dest="base_url")
    p.add_argument("-o", "--output", dest="output", metavar="NAME")
    p.add_argument("--raw", action="store_true", help="print the raw request and events")
    for param in PARAMS.values():
        flag = "--" + param.name.replace("_", "-")
        if param.kind == "list[str]":
            p.add_argument(flag, dest=param.name, action="append", help=param.help)
        else:
            p.add_argument(flag, dest=param.name, help=param.help)
    if words:
        p.add_argument("words", nargs="*")
    return p


def _parse(line: str, *, cell: bool) -> argparse.Namespace:
    prog = "%%chat" if cell else "%chat"
    if not cell and not line.lstrip().startswith("-"):
        # %chat What's a token?  The whole line is the message (no shlex: quotes are text).
        return _parser(prog, words=True).parse_args(["--", *([line] if line.strip() else [])])
    try:
        argv = shlex.split(line or "")
    except ValueError as exc:
        raise _ArgError(f"{prog}: {exc}") from None
    return _parser(prog, words=not cell).parse_args(argv)


def _configure(state: _Session, args: argparse.Namespace) -> None:
    params = dict(state.params)
    for name, param in PARAMS.items():
        value = getattr(args, name)
        if value is not None:
            try:
                params[name] = param.coerce(value)
            except ConfigError as exc:  # it names the parameter
                raise _ArgError(f"%%chat: {exc}") from None
    state.params = {k: v for k, v in params.items() if v is not None}
    if args.new:
        state.messages = []
        state.conversation_id = new_id()
    if args.system is not None:
        state.system = args.system or None
    if args.model is not None:
        state.model = args.model
    changed = False
    if args.api is not None and args.api != state.api:
        state.api, changed = args.api, True
    if args.base_url is not None and args.base_url != state.base_url:
        state.base_url, changed = args.base_url or None, True
    if changed or state.client is None:
        if state.base_url is not None:
            try:
                state.client, state.demo = Client(base_url=state.base_url, api=state.api), False
            except ConfigError as exc:  # names the argument: a usage error, no traceback
                state.base_url = None
                raise _ArgError(f"%%chat: {exc}") from None
        else:
            state.client, state.demo = default_client(state.api)
    if state.model is None:  # the panel's rule: the server's only model, else ask for one
        choice = resolve_model(state.client, DEMO_MODEL if state.demo else None)
        state.model, state.model_note = choice.model or None, choice.note


# ---- the output ---------------------------------------------------------------------------


class _CellSink:
    """Streams a turn into the cell's output: one display, updated in place."""

    def __init__(self) -> None:
        import IPython.display

        # IPython's display helpers are untyped; Any keeps mypy strict elsewhere.
        self._display: Any = IPython.display.display
        self._markdown: Any = IPython.display.Markdown
        self._handle: Any = None
        self._parts: list[str] = []

    def begin(self, turn: Turn) -> None:
        self._handle = self._display(self._markdown("…"), display_id=True)

    def delta(self, request_id: str, seq: int, text: str) -> None:
        self._parts.append(text)
        if self._handle is not None:
            self._handle.update(self._markdown("".join(self._parts)))

    def finish(self, message: dict[str, Any]) -> None:
        status = message["status"]
        final = message["content"] or ("_(empty reply)_" if status == "complete" else "")
        if status == "stopped":
            final += "\n\n_(stopped)_"
        elif status in ("error", "interrupted"):
            final += f"\n\n> **Error:** {message['error'] or 'the reply failed'}"
        if self._handle is not None:
            self._handle.update(self._markdown(final))
        else:  # no display hook (plain Python): print instead
            print(final)


# ---- the magics ---------------------------------------------------------------------------


def chat(line: str, cell: str | None, shell: Any = None) -> Any:
    """Send ``cell`` (the ``%%chat`` cell body, or for ``%chat`` the rest of the line) and
    stream the reply into the output.

    Raises the API or stream error that ended the reply, after showing its partial text.
    """
    args = _parse(line or "", cell=cell is not None)
    if args.output is not None and not args.output.isidentifier():
        raise _ArgError(f"%%chat: -o takes a variable name, not {args.output!r}")
    state = _session(shell)
    _configure(state, args)
    text = (cell if cell is not None else " ".join(args.words)).strip()
    if not text:
        if args.new:
            import IPython.display

            show: Any = IPython.display.display  # untyped, as in _CellSink
            show(IPython.display.Markdown("_New conversation._"))  # type: ignore[no-untyped-call]
            return None
        raise _ArgError("%%chat: the cell is empty; write your message below the %%chat line")
    if not state.model:
        note = f" ({state.model_note})" if state.model_note else ""
        raise _ArgError(f"%%chat: no model set; use %%chat --model NAME{note}")
    assert state.client is not None
    snapshot = {**state.params, "system": state.system}
    user = Message.user(text, model=state.model, api=state.client.api, params=snapshot)
    parent = state.messages[-1]["id"] if state.messages else None
    history = [*state.messages, {**user.to_dict(), "parent_id": parent}]
    turn = Turn(  # a request it cannot build raises here, before the conversation changes
        state.client,
        prompt(history, state.system),
        state.model,
        state.params,
        _CellSink(),
        snapshot_params=snapshot,
    )
    state.messages = history
    reply = turn.run()
    assert turn.message is not None
    message = {**turn.message, "parent_id": history[-1]["id"]}
    state.messages = [*state.messages, message]
    write_turn([history[-1], message], conversation_id=state.conversation_id, source="magic")
    if args.output is not None and shell is not None:
        shell.user_ns[args.output] = reply
    if args.raw and reply.raw is not None:  # this cell only (not a sticky setting)
        print(reply.raw.to_text())
    if turn.exception is not None:
        raise turn.exception
    return None


_HISTORY_VIEWS = ("", "usage")


def chat_history(line: str = "", shell: Any = None) -> Any:
    """``%chat_history``: the ``%%chat`` conversation as a DataFrame (see nbchat.history);
    ``%chat_history usage``: its token usage (see nbchat.usage)."""
    from nbchat.data.frames import history, usage

    view = line.strip()
    if view not in _HISTORY_VIEWS:
        raise _ArgError(
            f"%chat_history: unknown argument {view!r}; use %chat_history or %chat_history usage"
        )
    messages = _session(shell).messages
    return usage(messages) if view == "usage" else history(messages)


#: ``%chat ...`` at the start of a line (a line magic call as IPython would parse it).
_LINE_CHAT = re.compile(r"^(\s*)%chat(?:[ \t]+(.*?))?[ \t]*$")


def _escape_chat_lines(lines: list[str]) -> list[str]:
    """An input transformer (cleanup stage, before IPython's own).

    * ``%chat What is a token?``: IPython reads a trailing ``?`` as a help request ("Object
      `token` not found"); the line becomes the magic call itself, so the ``?`` is text.
    * A cell holding only ``%%chat --new``: IPython refuses an empty cell-magic body; the cell
      gets an empty line as its body, which ``%%chat`` reads as "no message".
    """
    if lines and lines[0].startswith("%%chat") and not "".join(lines[1:]).strip():
        first = lines[0].rstrip("\r\n")
        if first == "%%chat" or first.startswith(("%%chat ", "%%chat\t")):
            return [first + "\n", "\n"]
    if lines and lines[0].startswith("%%"):
        return lines  # a cell magic's body is its own text
    out = []
    for line in lines:
        m = _LINE_CHAT.match(line.rstrip("\r\n"))
        if m is None:
            out.append(line)
        else:
            indent, rest = m.group(1), m.group(2) or ""
            out.append(f"{indent}get_ipython().run_line_magic('chat', {rest!r})\n")
    return out


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%chat``/``%chat`` and ``%chat_history`` on an IPython shell
    (``%load_ext nbchat``)."""
    from IPython.core.error import UsageError

    def _chat(line: str, cell: str | None = None) -> Any:
        try:
            return chat(line, cell, ipython)
        except _ArgError as exc:  # a short "UsageError: %%chat: ...", no traceback
            raise UsageError(str(exc)) from None

    def _history(line: str = "") -> Any:
        try:
            return chat_history(line, ipython)
        except _ArgError as exc:
            raise UsageError(str(exc)) from None

    _chat.__doc__ = chat.__doc__
    _history.__doc__ = chat_history.__doc__
    ipython.register_magic_function(_chat, "line_cell", "chat")
    ipython.register_magic_function(_history, "line", "chat_history")
    cleanup = ipython.input_transformers_cleanup
    if not any(getattr(t, "__name__", "") == _escape_chat_lines.__name__ for t in cleanup):
        cleanup.append(_escape_chat_lines)
