"""plot_usage: the chart spec has the expected encodings, tooltips and inline data."""

from __future__ import annotations

import builtins
import json
from typing import Any

import pytest

import nbchat
from nbchat import ChatPanel, Client, Reply, Usage
from nbchat.data.frames import history, usage
from nbchat.data.plot import plot_usage

MSGS: list[Any] = [
    {"role": "user", "content": "a"},
    Reply("x", usage=Usage(10, 5, 15), model="demo"),
    {"role": "user", "content": "b"},
    Reply("y", usage=None, status="error", error="boom", model="demo"),
    {"role": "user", "content": "c"},
    Reply("z", usage=Usage(30, 7, 37), model="demo"),
]


def layers(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    bars, line = spec["layer"]
    return bars, line


def test_spec_encodings_and_tooltips() -> None:
    spec = plot_usage(MSGS).to_dict()
    json.dumps(spec, allow_nan=False)  # valid JSON: no NaN sneaks in
    bars, line = layers(spec)
    assert bars["mark"]["type"] == "bar"
    enc = bars["encoding"]
    assert enc["x"]["field"] == "turn" and enc["x"]["type"] == "ordinal"
    assert enc["y"]["field"] == "tokens" and enc["y"]["stack"] == "zero"
    assert enc["color"]["field"] == "kind"
    assert enc["color"]["scale"]["domain"] == ["prompt", "completion"]
    tips = {t["field"] for t in enc["tooltip"]}
    assert {
        "turn",
        "kind",
        "tokens",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cumulative_total",
        "status",
    } <= tips
    assert line["mark"]["type"] == "line"
    assert line["encoding"]["y"]["field"] == "cumulative_total"
    assert {t["field"] for t in line["encoding"]["tooltip"]} >= {"turn", "cumulative_total"}
    # interactive: a hover selection drives the bars' opacity
    assert spec["params"][0]["select"]["type"] == "point"
    assert "condition" in enc["opacity"]


def test_renders_with_the_data() -> None:
    spec = plot_usage(MSGS).to_dict()
    bars, line = layers(spec)
    rows = bars["data"]["values"]
    assert [(r["turn"], r["kind"], r["tokens"]) for r in rows] == [
        (1, "prompt", 10),
        (1, "completion", 5),
        (2, "prompt", None),  # unknown stays missing (no bar), never 0
        (2, "completion", None),
        (3, "prompt", 30),
        (3, "completion", 7),
    ]
    assert rows[0]["total_tokens"] == 15 and rows[0]["status"] == "complete"
    assert rows[2]["status"] == "error"
    points = line["data"]["values"]
    assert [p["cumulative_total"] for p in points] == [15, 15, 52]


def test_accepts_frames_and_panels(live_server: Any) -> None:
    client = Client(base_url=live_server.url + "/egp/v1", api_key=None)
    panel = ChatPanel(client=client, model="demo")
    panel.send("What is a token?").wait(30)
    panel.send("What is temperature?").wait(30)
    expected = plot_usage(panel).to_dict()["layer"][1]["data"]["values"]
    for source in (panel, panel.messages, history(panel), usage(panel)):
        got = plot_usage(source).to_dict()["layer"][1]["data"]["values"]
        assert got == expected
    u = panel.usage()
    assert [p["total_tokens"] for p in expected] == u["total_tokens"].tolist()
    assert nbchat.plot_usage is plot_usage
    panel.close()


def test_empty_and_title() -> None:
    spec = plot_usage([], title=None).to_dict()
    assert "title" not in spec
    assert layers(spec)[0]["data"]["values"] == []
    assert plot_usage(MSGS).to_dict()["title"] == "Token usage per turn"


def test_altair_is_a_dependency_not_an_extra() -> None:
    """notebooks/token-usage.ipynb must work on a plain `pip install nbchat` (issue 11 item 9)."""
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert any(d.replace(" ", "").startswith("altair") for d in project["dependencies"])


def test_missing_altair_says_how_to_repair(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "altair" or name.startswith("altair."):
            raise ImportError("No module named 'altair'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install --force-reinstall nbchat"):
        plot_usage(MSGS)
