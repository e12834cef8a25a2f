"""IPython magics: ``%%chat`` sends the cell to a model and streams the reply into the output.

::

    %load_ext nbchat

    %%chat --system "You are a patient teacher."
    What is a token?

    %%chat
    And why does the prompt grow?

    %chat_history          # the conversation as a DataFrame

Options of ``%%chat`` (they stick for later cells until changed):
``--model M``, ``--system S``, ``--api egp|openai``, ``--base-url URL``; ``--new`` starts a
new conversation. With no API key configured (and no ``--base-url``) the embedded offline demo
server answers, as in :class:`~nbchat.ChatPanel`.

The conversation is kept per IPython shell in module state (:func:`conversation`), as message
dicts of the same shape as the panel's. The reply streams synchronously inside the cell that
asked for it: the cell is the thing being run. No lock outlives the cell, so other cells run
normally afterwards. A display handle is updated at most every ``UPDATE_INTERVAL_S``.
"""

from __future__ import annotations

import argparse
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from nbchat._exceptions import APIError, NbchatError, StreamError
from nbchat.client import Client
from nbchat.records import Message, Reply, new_id, now_iso

__all__ = ["UPDATE_INTERVAL_S", "conversation", "load_ipython_extension", "reset"]

#: Seconds between output updates while a reply streams (at most 20 per second).
UPDATE_INTERVAL_S = 0.05
DEMO_MODEL = "demo"


@dataclass
class _Session:
    """One shell's conversation and settings."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    system: str | None = None
    api: str = "egp"
    base_url: str | None = None
    client: Client | None = None
    demo: bool = False


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
    """The ``%%chat`` line could not be parsed."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise _ArgError(f"%%chat: {message}\n{self.format_usage()}")


def _parser() -> _Parser:
    p = _Parser(prog="%%chat", add_help=False)
    p.add_argument("--model", "-m")
    p.add_argument("--system", "-s")
    p.add_argument("--new", action="store_true", help="start a new conversation")
    p.add_argument("--api", choices=("egp", "openai"))
    p.add_argument("--base-url", dest="base_url")
    return p


def _configure(state: _Session, args: argparse.Namespace) -> None:
    if args.new:
        state.messages = []
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
        state.client, state.demo = _make_client(state.api, state.base_url)
    if state.model is None and state.demo:
        state.model = DEMO_MODEL


def _make_client(api: str, base_url: str | None) -> tuple[Client, bool]:
    if base_url is not None:
        return Client(base_url=base_url, api=api), False
    client = Client(api=api)
    if client.has_key:
        return client, False
    from nbchat.widget import demo_client

    demo = demo_client()
    if api == "egp":
        return demo, True
    root = demo.base_url.removesuffix("/egp/v1")
    return Client(base_url=root + "/v1", api="openai", api_key=None), True


# ---- the cell magic ---------------------------------------------------------------------


def chat(line: str, cell: str | None, shell: Any = None) -> None:
    """Send ``cell`` (the ``%%chat`` cell body) and stream the reply into the output."""
    import IPython.display

    # IPython's display helpers are untyped; Any keeps mypy strict elsewhere.
    display: Any = IPython.display.display
    Markdown: Any = IPython.display.Markdown

    try:
        args = _parser().parse_args(shlex.split(line or ""))
    except ValueError as exc:
        raise _ArgError(f"%%chat: {exc}") from None
    state = _session(shell)
    _configure(state, args)
    text = (cell or "").strip()
    if not text:
        if args.new:
            display(Markdown("_New conversation._"))
            return
        raise _ArgError("%%chat: the cell is empty; write your message below the %%chat line")
    if not state.model:
        raise _ArgError("%%chat: no model set; use %%chat --model NAME")
    assert state.client is not None
    client = state.client
    params: dict[str, Any] = {"system": state.system}
    user = Message.user(text, model=state.model, api=client.api, params=params).to_dict()
    payload: list[dict[str, Any]] = []
    if state.system:
        payload.append({"role": "system", "content": state.system})
    payload += [{"role": m["role"], "content": m["content"]} for m in state.messages]
    payload.append({"role": "user", "content": text})
    state.messages = [*state.messages, user]

    created_at = now_iso()
    handle = display(Markdown("…"), display_id=True)
    parts: list[str] = []
    last = 0.0
    reply: Reply | None = None
    stream = client.stream(payload, state.model)
    try:
        with stream:
            for chunk in stream:
                if not chunk.delta:
                    continue
                parts.append(chunk.delta)
                now = time.monotonic()
                if now - last >= UPDATE_INTERVAL_S:
                    last = now
                    if handle is not None:
                        handle.update(Markdown("".join(parts)))
        reply = stream.reply
    except StreamError as exc:
        reply = exc.reply or stream.reply
    except APIError as exc:
        reply = stream.reply or Reply(
            content=stream.text, status="error", error=exc.message, model=state.model
        )
    except KeyboardInterrupt:  # the notebook's stop button: keep the partial text
        stream.close()
        reply = stream.reply or Reply(content=stream.text, status="cancelled", model=state.model)
    if reply is None:
        reply = Reply(content=stream.text, status="cancelled", model=state.model)
    message = Message.from_reply(
        reply,
        message_id=new_id(),
        request_id=new_id(),
        created_at=created_at,
        model=state.model,
        params=params,
    ).to_dict()
    state.messages = [*state.messages, message]
    final = reply.content or ("" if reply.status != "complete" else "_(empty reply)_")
    if reply.status == "cancelled":
        final += "\n\n_(stopped)_"
    elif reply.status in ("error", "incomplete"):
        final += f"\n\n> **Error:** {reply.error or 'the reply failed'}"
    if handle is not None:
        handle.update(Markdown(final))
    else:  # no display hook (plain Python): print instead
        print(final)


def chat_history(line: str = "", shell: Any = None) -> Any:
    """``%chat_history``: the ``%%chat`` conversation as a DataFrame (see nbchat.history)."""
    from nbchat.frames import history, usage

    if line.strip() == "usage":
        return usage(_session(shell).messages)
    return history(_session(shell).messages)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%chat`` and ``%chat_history`` on an IPython shell (``%load_ext nbchat``)."""

    def _chat(line: str, cell: str | None = None) -> None:
        chat(line, cell, ipython)

    def _history(line: str = "") -> Any:
        return chat_history(line, ipython)

    _chat.__doc__ = chat.__doc__
    _history.__doc__ = chat_history.__doc__
    ipython.register_magic_function(_chat, "cell", "chat")
    ipython.register_magic_function(_history, "line", "chat_history")
