"""``plot_usage``: token usage per turn as an interactive Altair chart.

Altair is a dependency (inspecting token usage is one of the things nbchat is for, so it
works on a plain ``pip install nbchat``), imported inside the function (STYLE.md 2.14) so
that ``import nbchat`` stays fast. Bars show the prompt and completion tokens of each reply,
stacked; a line shows the running total. Hover a bar or a point for the turn's numbers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["plot_usage"]

PLOT_EXTRA_HINT = "pip install --force-reinstall nbchat  (Altair is one of its dependencies)"


def _altair() -> Any:
    try:
        import altair as alt
    except ImportError as exc:  # pragma: no cover - exercised with altair hidden
        raise ImportError(
            f"plot_usage needs Altair, which this installation of nbchat lacks: {PLOT_EXTRA_HINT}"
        ) from exc
    return alt


def plot_usage(source: Any, *, title: str | None = "Token usage per turn") -> Any:
    """Prompt and completion tokens per turn (stacked bars) and the running total (line).

    Parameters
    ----------
    source:
        A ChatPanel, a list of messages (see :func:`nbchat.history`), or a history or usage
        DataFrame.
    title:
        The chart title (None for none).

    Returns
    -------
    altair.LayerChart
        Interactive: tooltips with the turn's numbers, the hovered turn highlighted.
        Display it, or call ``.to_dict()`` for the Vega-Lite spec with the data inline.

    Raises
    ------
    ImportError
        Altair is not installed (``pip install 'nbchat[plot]'``).
    """
    alt = _altair()
    import pandas as pd

    from nbchat.data.frames import usage

    frame = usage(source)
    # Plain Python values: unknown counts stay missing (None: no bar), never zero or NaN.
    columns = {
        name: frame[name].astype(object).tolist()
        for name in (
            "turn",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cumulative_total",
            "status",
        )
    }
    rows = [
        {k: (None if pd.isna(v) else v) for k, v in zip(columns, values, strict=True)}
        for values in zip(*columns.values(), strict=True)
    ]
    # Inline values, not a DataFrame: Altair would turn None into NaN, which is not JSON.
    table = alt.Data(values=rows)
    long = alt.Data(
        values=[
            {**row, "kind": kind, "tokens": row[f"{kind}_tokens"]}
            for row in rows
            for kind in ("prompt", "completion")
        ]
    )
    hover = alt.selection_point(fields=["turn"], on="pointerover", clear="pointerout")

    x = alt.X("turn:O", title="turn", axis=alt.Axis(labelAngle=0))
    bars = (
        alt.Chart(long)
        .mark_bar()
        .add_params(hover)
        .encode(
            x=x,
            y=alt.Y("tokens:Q", stack="zero", title="tokens"),
            color=alt.Color(
                "kind:N",
                title="tokens",
                scale=alt.Scale(domain=["prompt", "completion"], range=["#4c78a8", "#f58518"]),
            ),
            order=alt.Order("kind:N", sort="descending"),
            opacity=alt.condition(hover, alt.value(1.0), alt.value(0.75)),
            tooltip=[
                alt.Tooltip("turn:O", title="turn"),
                alt.Tooltip("model:N", title="model"),
                alt.Tooltip("kind:N", title="part"),
                alt.Tooltip("tokens:Q", title="tokens"),
                alt.Tooltip("prompt_tokens:Q", title="prompt tokens"),
                alt.Tooltip("completion_tokens:Q", title="completion tokens"),
                alt.Tooltip("total_tokens:Q", title="total tokens"),
                alt.Tooltip("cumulative_total:Q", title="cumulative total"),
                alt.Tooltip("status:N", title="status"),
            ],
        )
    )
    line = (
        alt.Chart(table)
        .mark_line(point=True, color="#54a24b")
        .encode(
            x=x,
            y=alt.Y("cumulative_total:Q", title="cumulative total"),
            tooltip=[
                alt.Tooltip("turn:O", title="turn"),
                alt.Tooltip("total_tokens:Q", title="total tokens"),
                alt.Tooltip("cumulative_total:Q", title="cumulative total"),
            ],
        )
    )
    chart = alt.layer(bars, line).resolve_scale(y="independent")
    if title:
        chart = chart.properties(title=title)
    return chart
