"""nbchat: chat with large language models inside Jupyter notebooks.

The public API is re-exported here; everything else is private. Heavy parts (the widget,
the embedded server, pandas) load on first use, so ``import nbchat`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbchat._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    BudgetExceeded,
    ConfigError,
    NbchatError,
    NbchatWarning,
    NotFoundError,
    RateLimitError,
    ReplayExhaustedError,
    ReplayMismatchError,
    ServerError,
    StreamError,
    UnpricedModelWarning,
)
from nbchat._version import __version__
from nbchat.client import Client, Stream
from nbchat.records import Chunk, Reply, ToolRequest, Usage

if TYPE_CHECKING:
    from nbchat.data.frames import history, usage
    from nbchat.data.logs import conversations, logs
    from nbchat.data.plot import plot_usage
    from nbchat.data.prices import set_price
    from nbchat.panel import BusyError, ChatPanel
    from nbchat.panel.compare import Compare
    from nbchat.recording import Recorder
    from nbchat.runs.batch import batch, batch_stats, read_batch_results
    from nbchat.runs.compare import compare
    from nbchat.server import Server, serve

__all__ = [
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
]

_LAZY = {
    "BusyError": "nbchat.panel",
    "ChatPanel": "nbchat.panel",
    "Compare": "nbchat.panel.compare",
    "compare": "nbchat.runs.compare",
    "serve": "nbchat.server",
    "Server": "nbchat.server",
    "logs": "nbchat.data.logs",
    "conversations": "nbchat.data.logs",
    "history": "nbchat.data.frames",
    "usage": "nbchat.data.frames",
    "plot_usage": "nbchat.data.plot",
    "set_price": "nbchat.data.prices",
    "Recorder": "nbchat.recording",
    "batch": "nbchat.runs.batch",
    "batch_stats": "nbchat.runs.batch",
    "read_batch_results": "nbchat.runs.batch",
}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbchat``: registers the ``%%chat`` and ``%chat_history`` magics."""
    from nbchat.magic import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbchat' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
