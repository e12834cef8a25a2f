"""Compare: several models, one prompt, side by side. Thin: traits, the bundle, one dispatcher.

Turns, rounds and votes live in ``nbchat.panel.compare_runner``; columns and their labels in
``nbchat.runs.columns``; the results frame and the leaderboard in ``nbchat.runs.compare``.
The message vocabulary is ``nbchat.panel.compare_vocabulary``. No API key becomes a trait.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import anywidget  # noqa: TID251 (a widget, like nbchat.panel.widget)
import ipywidgets
import traitlets

from nbchat._exceptions import NbchatError
from nbchat.client import Client
from nbchat.panel.bundle import Bundle, direct, shared_bundle
from nbchat.panel.compare_runner import CompareRunner, Round
from nbchat.panel.intents import IntentDispatch
from nbchat.panel.pages import MessagePage
from nbchat.runs.columns import needs_default_client, parse_columns
from nbchat.runs.defaults import default_client

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Compare"]

STATIC = Path(__file__).parent.parent / "static"


class Compare(IntentDispatch, anywidget.AnyWidget):
    """Ask several models (or parameter settings) the same prompt; replies stream side by side.

    Parameters
    ----------
    columns:
        A list of columns, each a model name, ``(model, params)`` or ``(client, model,
        params)``. Labels are the model plus the parameters that differ between columns.
    client:
        The client of the columns that name none. Default: Spellbook when
        ``$SPELLBOOK_API_KEY`` is set, otherwise the embedded offline demo server.
    system:
        A system prompt, sent first to every column.
    blind:
        Label the columns A, B, C in a random order per prompt and name no model until a
        vote (``vote()`` or the buttons); :meth:`leaderboard` counts the votes.
    **params:
        Generation parameters for every column (a column's own win).
    """

    # One copy of the front end per kernel, as for the chat panel (nbchat.panel.bundle).
    if direct():
        _esm = STATIC / "compare.js"
        _css = STATIC / "compare.css"
    else:
        _esm = STATIC / "loader.js"
    bundle = traitlets.Instance(Bundle, allow_none=True).tag(
        sync=True, **ipywidgets.widget_serialization
    )
    """The shared front end (``nbchat.panel.bundle``), or None when loading files directly."""

    slots = traitlets.List(traitlets.Dict()).tag(sync=True)
    """The columns as shown (``compare_vocabulary.Slot``), in slot order."""
    pages = traitlets.List(traitlets.Instance(MessagePage)).tag(
        sync=True, **ipywidgets.widget_serialization
    )
    """Older prompts (rounds), in immutable pages, as the chat panel keeps its messages
    (``nbchat.panel.pages``): a commit re-sends at most ``recent``, however long the session."""
    recent = traitlets.List(traitlets.Dict()).tag(sync=True)
    """The newest prompts and each slot's reply (blind mode: only the latest prompt)."""
    streaming = traitlets.List(traitlets.Dict()).tag(sync=True)
    """Per slot: the reply in progress (id, request_id), or empty."""
    status = traitlets.Unicode("idle").tag(sync=True)
    """``idle`` or ``streaming`` (some column is replying)."""
    blind = traitlets.Bool(False).tag(sync=True)
    system = traitlets.Unicode("").tag(sync=True)
    backend = traitlets.Unicode("").tag(sync=True)
    """Which server(s) the columns ask (never a key)."""

    def __init__(
        self,
        columns: Sequence[Any],
        client: Client | None = None,
        system: str | None = None,
        blind: bool = False,
        **params: Any,
    ) -> None:
        demo = False
        fallback = client
        if client is None and needs_default_client(columns):
            fallback, demo = default_client()
        cols = parse_columns(columns, client, params, fallback)
        urls = dict.fromkeys(c.client.display_url for c in cols)
        backend = " · ".join(urls)
        if demo and all(c.client is fallback for c in cols):
            backend = f"demo model (offline) · {backend}"
        self._columns = cols
        self._runner = CompareRunner(self, cols, system or "", bool(blind))
        super().__init__(
            blind=bool(blind),
            system=system or "",
            backend=backend,
            bundle=None
            if direct()
            else shared_bundle(STATIC / "compare.js", STATIC / "compare.css"),
        )
        self._runner.publish()
        self.on_msg(self._on_custom_msg)

    @property
    def rounds(self) -> list[dict[str, Any]]:
        """The prompts shown, oldest first (``compare_vocabulary.RoundState``): pages + recent."""
        return [r for page in self.pages for r in page.messages] + list(self.recent)

    @property
    def labels(self) -> list[str]:
        """Each column's label, in column order."""
        return [c.label for c in self._columns]

    def send(self, text: str) -> Round:
        """Send a prompt to every column; returns at once, ``.wait()`` gives ``{label: Reply}``."""
        return self._runner.send(text)

    def stop(self) -> None:
        """Stop every reply in progress (each keeps its partial text, marked stopped)."""
        self._runner.stop()

    def retry(self, column: int | str) -> Round:
        """Ask one column the latest prompt again: a label, a column index, or in blind mode
        the letter it is shown as."""
        return self._runner.retry(self._slot(column))

    def vote(self, choice: int | str) -> None:
        """Vote on the latest prompt: ``"tie"``, ``"bad"`` (all bad), or the best column (its
        label, column index, or in blind mode its letter). Blind mode then reveals the models."""
        if choice in ("tie", "bad"):
            self._runner.vote(str(choice))
        else:
            self._runner.vote("best", self._slot(choice))

    def results(self) -> pd.DataFrame:
        """One row per prompt x column (``nbchat.runs.compare.RESULT_COLUMNS``), votes included."""
        from nbchat.runs.compare import results_frame

        return results_frame(self._runner.rows())

    def leaderboard(self) -> pd.DataFrame:
        """Wins, ties, losses and win rate per column, from the votes."""
        from nbchat.runs.compare import leaderboard

        return leaderboard(self.results())

    def close(self) -> None:
        """Stop the workers before the widget closes (a worker sending to a closed comm fails)."""
        runner = getattr(self, "_runner", None)  # (__del__ of a widget whose __init__ failed)
        if runner is not None:
            runner.close()
        for page in self.pages:
            page.close()
        super().close()

    def __repr__(self) -> str:
        return (
            f"Compare(columns={self.labels!r}, prompts={len(self._runner.rounds)}, "
            f"blind={self.blind}, status={self.status!r})"
        )

    def _slot(self, column: int | str) -> int:
        rnd = self._runner.latest
        if rnd is None:
            raise NbchatError("no prompt was sent yet")
        if isinstance(column, str) and self.blind and column in rnd.letters:
            return rnd.letters.index(column)
        if isinstance(column, str):
            if column not in self.labels:
                raise NbchatError(f"no column {column!r}; columns: {self.labels}")
            column = self.labels.index(column)
        if not isinstance(column, int) or not 0 <= column < len(self._columns):
            raise NbchatError(f"no column {column!r}")
        return rnd.order.index(column)

    # -- the front end -----------------------------------------------------------------

    _dispatch: ClassVar[dict[str, Callable[[Compare, dict[str, Any]], Any]]] = {
        "send": lambda self, msg: self.send(str(msg.get("text", ""))),
        "stop": lambda self, msg: self.stop(),
        "retry": lambda self, msg: self._runner.retry(int(msg["slot"])),
        "vote": lambda self, msg: self._runner.vote(str(msg["kind"]), int(msg.get("slot", -1))),
        "snapshot-request": lambda self, msg: self.send_msg(self._runner.snapshot(msg.get("id"))),
    }
