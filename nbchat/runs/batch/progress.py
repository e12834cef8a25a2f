"""Progress of a batch run: a widget in a notebook, a text bar in a terminal, or nothing.

In a Jupyter kernel an ipywidgets ``IntProgress`` with a label (rows done/total, errors,
retries, tokens/s, ETA) is displayed once and updated from the run's coordinator at most
every ``UPDATE_INTERVAL_S`` (one comm message per update: the label and the bar change
inside ``hold_sync``), so IOPub is never flooded; after the run the label shows the summary.
Elsewhere tqdm draws a bar on stderr at the same pace, then the summary is printed.
``progress=False`` shows nothing.
"""

from __future__ import annotations

import html
import sys
import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nbchat.runs.batch.engine import RunStats

__all__ = ["UPDATE_INTERVAL_S", "Progress", "make_progress", "summary_line"]

#: The least time between two updates of the display.
UPDATE_INTERVAL_S = 0.25


class Progress(Protocol):
    def update(self, stats: RunStats) -> None: ...

    def close(self, stats: RunStats) -> None: ...


def make_progress(enabled: bool, total: int) -> Progress:
    """The display for this environment (or a silent one)."""
    if not enabled:
        return _Silent()
    if _in_kernel():
        try:
            return _Widget(total)
        except ImportError:
            pass
    return _Text(total)


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:
        return False
    return ip is not None and getattr(ip, "kernel", None) is not None


def _rates(stats: RunStats) -> tuple[float, float, float | None]:
    """(rows/s, completion tokens/s, seconds left or None)."""
    elapsed = max(stats.elapsed, 1e-9)
    sent_done = stats.done - stats.cached - stats.skipped
    rows_s = sent_done / elapsed
    tok_s = stats.completion_tokens / elapsed
    left = stats.rows - stats.done
    eta = left / rows_s if rows_s > 0 else None
    return rows_s, tok_s, eta


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def summary_line(stats: RunStats) -> str:
    """One line after a run: counts by status, time, rates, retries."""
    _rows_s, tok_s, _ = _rates(stats)
    parts = ", ".join(f"{n:,} {k}" for k, n in sorted(stats.statuses.items()))
    text = (
        f"nbchat.batch: {stats.rows:,} rows in {stats.elapsed:.1f} s ({parts}); "
        f"{stats.cached:,} from cache; {stats.requests:,} requests, {stats.retries:,} retries; "
        f"{tok_s:,.0f} tok/s"
    )
    if stats.interrupted:
        text += "; interrupted: re-run with the same cache= to finish"
    return text


class _Silent:
    def update(self, stats: RunStats) -> None:
        pass

    def close(self, stats: RunStats) -> None:
        pass


class _Throttled:
    def __init__(self) -> None:
        self._last = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < UPDATE_INTERVAL_S:
            return False
        self._last = now
        return True


class _Widget(_Throttled):
    """An ipywidgets bar and label, displayed in the cell that runs the batch."""

    def __init__(self, total: int) -> None:
        super().__init__()
        import ipywidgets as w
        from IPython.display import display

        self.bar = w.IntProgress(value=0, min=0, max=max(total, 1), description="nbchat.batch")
        self.label = w.HTML(value=f"0 / {total:,} rows")
        self.box = w.HBox([self.bar, self.label])
        self.updates = 0
        display(self.box)  # type: ignore[no-untyped-call]

    def _set(self, value: int, text: str, style: str | None = None) -> None:
        with self.box.hold_sync():
            self.bar.value = value
            self.label.value = text
            if style is not None:
                self.bar.bar_style = style
        self.updates += 1

    def update(self, stats: RunStats) -> None:
        if not self.due():
            return
        _, tok_s, eta = _rates(stats)
        text = (
            f"{stats.done:,} / {stats.rows:,} rows &middot; {stats.failed:,} errors &middot; "
            f"{stats.retries:,} retries &middot; {tok_s:,.0f} tok/s &middot; ETA {_eta(eta)}"
        )
        self._set(stats.done, text)

    def close(self, stats: RunStats) -> None:
        failed = stats.failed or stats.interrupted
        self._set(stats.done, html.escape(summary_line(stats)), "warning" if failed else "success")


class _Text(_Throttled):
    """tqdm on stderr (a plain line when tqdm is not installed)."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self._bar: Any = None
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=total, unit="row", desc="nbchat.batch", file=sys.stderr)

    def update(self, stats: RunStats) -> None:
        if self._bar is None or not self.due():
            return
        _, tok_s, _ = _rates(stats)
        self._bar.n = stats.done
        self._bar.set_postfix(
            errors=stats.failed, retries=stats.retries, tok_s=f"{tok_s:,.0f}", refresh=False
        )
        self._bar.refresh()

    def close(self, stats: RunStats) -> None:
        if self._bar is not None:
            self._bar.n = stats.done
            self._bar.close()  # draws the final state once
        print(summary_line(stats), file=sys.stderr, flush=True)
