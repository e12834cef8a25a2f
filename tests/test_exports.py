"""The public surface: exactly these names, each importable, and a light ``import nbchat``."""

from __future__ import annotations

import subprocess
import sys

import nbchat

PUBLIC = {
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceeded",
    "BusyError",
    "ChatPanel",
    "Chunk",
    "Client",
    "Compare",
    "ConfigError",
    "NbchatError",
    "NbchatWarning",
    "NotFoundError",
    "RateLimitError",
    "Recorder",
    "ReplayExhaustedError",
    "ReplayMismatchError",
    "Reply",
    "Server",
    "ServerError",
    "Stream",
    "StreamError",
    "ToolRequest",
    "UnpricedModelWarning",
    "Usage",
    "__version__",
    "batch",
    "batch_stats",
    "compare",
    "conversations",
    "history",
    "logs",
    "plot_usage",
    "read_batch_results",
    "serve",
    "set_price",
    "usage",
}


def test_all_is_the_public_surface() -> None:
    assert set(nbchat.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(nbchat, name) is not None


def test_every_error_is_an_api_error() -> None:
    for name in ("AuthenticationError", "NotFoundError", "BadRequestError", "RateLimitError"):
        assert issubclass(getattr(nbchat, name), nbchat.APIError)
    for name in ("ServerError", "APIConnectionError", "StreamError"):
        assert issubclass(getattr(nbchat, name), nbchat.APIError)
    assert issubclass(nbchat.APIError, nbchat.NbchatError)


def test_import_is_light() -> None:
    """pandas, starlette, uvicorn and anywidget load on first use, not at import."""
    code = (
        "import sys, nbchat; "
        "print(sorted(m for m in ('pandas', 'starlette', 'uvicorn', 'anywidget', 'altair', "
        "'genai_prices') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_load_ipython_extension_is_exposed() -> None:
    assert callable(nbchat.load_ipython_extension)
