"""A build hook that runs before hatch-jupyter-builder: say clearly that npm is needed.

Installing nbchat from source builds its front end with npm (``js/``). Without npm,
hatch-jupyter-builder fails with ``Could not find cmd (npm)``, which does not say what to do.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NEEDS_NPM = (
    "nbchat's chat panel (js/) is built with npm when installing from source, and npm was not "
    "found on PATH. Install Node.js 20 or newer with npm (https://nodejs.org, or your package "
    "manager, e.g. `apt-get install nodejs npm`) and try again, or install a built wheel."
)


def missing_npm_message(root: str | Path, which: Any = shutil.which) -> str | None:
    """The error to show when the bundle must be built and npm is missing, else None."""
    if (Path(root) / "nbchat" / "static" / "widget.js").exists():
        return None  # already built: hatch-jupyter-builder skips the npm step
    return None if which("npm") else NEEDS_NPM


class NpmCheckHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        message = missing_npm_message(self.root)
        if message:
            raise RuntimeError(message)
