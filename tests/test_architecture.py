"""The package stays layered and small: module sizes here; the import layers and the absence of
cycles are import-linter contracts (``[tool.importlinter]`` in pyproject.toml, run by
``lint-imports`` in scripts/test)."""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "nbchat"
MAX_LINES = 400
#: The widget class is traits, the bundle and one dispatcher (STYLE.md 1.1).
MAX_WIDGET_LINES = 230  # 220, then issue 15's budget trait and raw-request intent (8 lines)
#: Modules allowed over the limit for now (they may not grow; split them and remove them here).
#: server/app.py and server/demo_model.py were split (streaming.py, stats.py, demo_topics.py).
KNOWN_OVER: dict[str, int] = {}


def _lines(path: Path) -> int:
    return len(path.read_text("utf-8").splitlines())


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_no_module_is_over_the_limit(path: Path) -> None:
    name = path.relative_to(PACKAGE).as_posix()
    limit = KNOWN_OVER.get(name, MAX_LINES)
    assert _lines(path) <= limit, f"{name} has {_lines(path)} lines (limit {limit}): split it"


def test_the_widget_is_thin() -> None:
    assert _lines(PACKAGE / "panel" / "widget.py") <= MAX_WIDGET_LINES


def test_known_over_entries_are_still_over() -> None:
    """An entry that got split must leave KNOWN_OVER, so the limit applies to it again."""
    for name in KNOWN_OVER:
        path = PACKAGE / name
        assert path.exists() and _lines(path) > MAX_LINES, f"remove {name} from KNOWN_OVER"
