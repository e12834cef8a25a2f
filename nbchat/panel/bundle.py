"""One copy of the front end per kernel, shared by every panel.

anywidget syncs a widget's ``_esm`` and ``_css`` as traits of each widget, so every panel
stored its own ~340 kB copy of the front end in a notebook saved with widget state (three
panels: about 1.1 MB). Here the code and styles live in one :class:`Bundle` model per kernel;
each panel's ``_esm`` is a ~2 kB loader (``js/src/loader.js``) that imports the code from the
bundle it references (``ChatPanel.bundle``). The saved state holds the bundle once.

With ``ANYWIDGET_HMR=1`` (front-end development, ``npm --prefix js run dev``) panels load the
files directly instead, so anywidget's hot reload keeps working.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import ipywidgets
import traitlets

__all__ = ["Bundle", "direct", "shared_bundle"]

STATIC = Path(__file__).parent.parent / "static"


class Bundle(ipywidgets.Widget):  # type: ignore[misc]
    """The front end's code and styles: a model with no view, synced once per kernel."""

    esm = traitlets.Unicode("").tag(sync=True)
    css = traitlets.Unicode("").tag(sync=True)


_lock = threading.Lock()
_bundles: dict[tuple[str, str], Bundle] = {}


def direct() -> bool:
    """Whether panels load their files directly (hot reload during development)."""
    return os.environ.get("ANYWIDGET_HMR", "") not in ("", "0")


def shared_bundle(esm: Path = STATIC / "widget.js", css: Path = STATIC / "widget.css") -> Bundle:
    """The kernel's bundle of ``esm`` + ``css``, created on first use (again if closed)."""
    key = (str(esm), str(css))
    with _lock:
        bundle = _bundles.get(key)
        if bundle is None or bundle.comm is None:
            bundle = Bundle(
                esm=esm.read_text("utf-8"), css=css.read_text("utf-8") if css.exists() else ""
            )
            _bundles[key] = bundle
        return bundle
