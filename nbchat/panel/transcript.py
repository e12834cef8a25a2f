"""A static copy of the conversation in the panel's output, for where the live panel cannot be.

GitHub, nbviewer and ``nbconvert --to html`` show a notebook saved without widget state (the
JupyterLab default) with no widget at all: only the panel output's ``text/plain``. So the panel
is displayed as two outputs: the widget, and a transcript (``text/html``, sanitized, and
``text/markdown``) under a display id of its own, updated each time a turn finishes (never
per token). In a live notebook the panel's stylesheet hides the transcript
(``.nbchat-static``), so the panel neither flickers nor loses its scroll: only the hidden
output is replaced.

Model text is untrusted: the markdown is rendered by markdown-it-py with raw HTML off, then
cleaned by nh3 (ammonia); links get ``rel="noopener noreferrer"``. No key is ever in it: it
holds message text, roles and model names only.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from nbchat.data.export import to_markdown

__all__ = ["STATIC_CLASS", "transcript_bundle", "transcript_html"]

#: The class of the transcript's root element; widget.css hides it where the panel is live.
STATIC_CLASS = "nbchat-static"


def _render(markdown: str) -> str:
    import nh3
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    # As in the panel (js/src/render-text.js): a remote image in model output can track or
    # exfiltrate, even hidden, so `![x](url)` renders as a link; nh3 drops any <img> left.
    md.disable("image")
    return nh3.clean(
        md.render(markdown),
        tags=nh3.ALLOWED_TAGS - {"img"},
        link_rel="noopener noreferrer",
        url_schemes={"http", "https", "mailto"},
    )


def transcript_html(
    messages: Iterable[Mapping[str, Any]], *, system: str | None = None, model: str = ""
) -> str:
    """The conversation as sanitized HTML, inside a root element of class ``nbchat-static``."""
    msgs = list(messages)
    body = (
        _render(to_markdown(msgs, system=system)) if msgs else "<p><em>(no messages yet)</em></p>"
    )
    note = (
        f"nbchat conversation ({len(msgs)} message{'s' if len(msgs) != 1 else ''}"
        + (f", model {html.escape(model)}" if model else "")
        + "): a static copy as of the last finished turn. Run the cell in Jupyter for the live"
        " panel."
    )
    return (
        f'<div class="{STATIC_CLASS}" style="border-left:3px solid #9e9e9e;padding:0 0.8em">'
        f"<p><small>{note}</small></p>{body}</div>"
    )


def transcript_bundle(
    messages: Iterable[Mapping[str, Any]], *, system: str | None = None, model: str = ""
) -> dict[str, str]:
    """The transcript output's MIME bundle: HTML, markdown and plain text."""
    msgs = list(messages)
    markdown = to_markdown(msgs, system=system)
    return {
        "text/html": transcript_html(msgs, system=system, model=model),
        "text/markdown": markdown,
        "text/plain": markdown,
    }


#: Seconds a refresh waits, so the user message committed just before a turn starts does not
#: cost a refresh of its own: only finished turns (and clears, edits) are written.
REFRESH_DELAY_S = 0.25

PLAIN_TEXT = "nbchat.ChatPanel: a live chat panel (the conversation is in the output below)"


class Transcript:
    """The transcript output of one panel: displayed under it, refreshed when a turn ends."""

    def __init__(self, panel: Any) -> None:
        import threading

        from nbchat.records import new_id

        self._panel = panel
        self.display_id = f"nbchat-transcript-{new_id()}"
        self._shown = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        #: How many times the transcript output was written (a test and benchmark counter).
        self.writes = 0

    def bundle(self) -> dict[str, str]:
        p = self._panel
        return transcript_bundle(p.messages, system=p.system or None, model=p.model)

    def display(self) -> None:
        """Display the panel and its transcript (``ChatPanel._ipython_display_``)."""
        import IPython.display

        display: Any = IPython.display.display  # untyped
        data, metadata = self._panel._repr_mimebundle_()
        display({**data, "text/plain": PLAIN_TEXT}, metadata=metadata, raw=True)
        display(self.bundle(), raw=True, display_id=self.display_id)
        self._shown = True
        self.writes += 1

    def changed(self, *_: Any) -> None:
        """The conversation changed: refresh soon, if no reply is streaming by then."""
        import threading

        if not self._shown:
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(REFRESH_DELAY_S, self._refresh)
            self._timer.daemon = True
            self._timer.start()

    def _refresh(self) -> None:
        import IPython.display

        update_display: Any = IPython.display.update_display  # untyped
        if self._panel.streaming:  # the turn's end schedules another refresh
            return
        update_display(self.bundle(), raw=True, display_id=self.display_id)
        self.writes += 1
