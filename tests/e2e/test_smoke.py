"""The browser-test setup itself: a plain ipywidgets slider renders (the widget manager works)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import NotebookPage


@pytest.mark.parametrize("jupyter_server", ["lab", "notebook"], indirect=True)
def test_ipywidgets_slider_renders(notebook: NotebookPage) -> None:
    notebook.open_notebook(["import ipywidgets\nipywidgets.IntSlider(value=7, description='7')"])
    out = notebook.cell_locator(0).locator(".jp-OutputArea-output")
    slider = out.locator(".widget-slider, .jupyter-widgets.widget-hslider").first
    expect(slider).to_be_visible(timeout=20_000)
    expect(out.locator(".widget-readout").first).to_have_text("7")
    expect(out).not_to_contain_text("Error displaying widget")
    # a cell added and run after the fact works too
    assert notebook.add_and_run_cell("print(6 * 7)").strip() == "42"
    assert notebook.relevant_errors() == []
