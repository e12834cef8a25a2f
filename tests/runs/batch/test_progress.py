"""Progress: the widget updates at most every UPDATE_INTERVAL_S and ends with the summary;
the terminal bar; silence with progress=False."""

from __future__ import annotations

import time

import pytest

from nbchat.runs.batch import progress
from nbchat.runs.batch.engine import RunStats


def test_the_widget_is_throttled_and_shows_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    widget = progress._Widget(1000)
    stats = RunStats(rows=1000)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.0:  # a coordinator waking as often as it can
        stats.done = min(1000, stats.done + 1)
        stats.completion_tokens += 10
        widget.update(stats)
    assert widget.updates <= 1.0 / progress.UPDATE_INTERVAL_S + 1
    assert "/ 1,000 rows" in widget.label.value and "tok/s" in widget.label.value
    assert 0 < widget.bar.value <= 1000
    stats.statuses["complete"] = 1000
    stats.done = 1000
    widget.close(stats)
    assert "1,000 complete" in widget.label.value and widget.bar.bar_style == "success"
    assert widget.bar.value == 1000


def test_outside_a_kernel_the_bar_is_text() -> None:
    shown = progress.make_progress(True, 10)
    assert isinstance(shown, progress._Text)
    assert isinstance(progress.make_progress(False, 10), progress._Silent)


def test_the_summary_line_says_how_to_finish_an_interrupted_run() -> None:
    stats = RunStats(rows=3, done=3, interrupted=True)
    stats.statuses.update({"complete": 1, "cancelled": 2})
    line = progress.summary_line(stats)
    assert "1 complete" in line and "2 cancelled" in line and "same cache=" in line
