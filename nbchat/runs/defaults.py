"""The default client: the configured API when a key is set, else the embedded demo server.

One demo server per process, started on first use and shared by every panel, ``%%chat`` and
batch run. Used by :class:`~nbchat.ChatPanel`, ``%%chat`` and the batch and comparison runs.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from nbchat.backends import get_backend
from nbchat.client import Client

if TYPE_CHECKING:
    from nbchat.server import Server

__all__ = ["DEMO_MODEL", "default_client", "demo_client", "demo_server"]

#: The demo server's model name: the model used when the demo server answers.
DEMO_MODEL = "demo"

_lock = threading.Lock()
_server: Server | None = None


def demo_server() -> Server:
    """The embedded demo server of this process, started once."""
    global _server
    with _lock:
        if _server is None or not _server.running:
            from nbchat.server import serve

            _server = serve()
        return _server


def demo_client(api: str = "egp") -> Client:
    """A client for the embedded demo server, speaking ``api`` (``egp`` or ``openai``)."""
    server = demo_server()
    endpoint = server.openai_url if api == "openai" else server.egp_url
    # The server gives endpoints; the client takes the base its backend appends a path to.
    base_url = endpoint.removesuffix(get_backend(api).endpoint(""))
    return Client(base_url=base_url, api=api, api_key=None)


def default_client(api: str = "egp") -> tuple[Client, bool]:
    """``(client, is_demo)``: the API's configured client when it has a key, else the demo's.

    The key is the backend's environment variable (``$SPELLBOOK_API_KEY``, ``$OPENAI_API_KEY``).
    """
    if os.environ.get(get_backend(api).api_key_env):
        return Client(api=api), False
    return demo_client(api), True
