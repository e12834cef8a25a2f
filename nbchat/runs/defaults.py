"""The default client: the configured API when a key is set, else the embedded demo server.

One demo server per process, started on first use and shared by every panel, ``%%chat`` and
batch run. Used by :class:`~nbchat.ChatPanel`, ``%%chat`` and the batch and comparison runs.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nbchat._exceptions import APIError, NotFoundError
from nbchat.backends import get_backend
from nbchat.client import Client

if TYPE_CHECKING:
    from nbchat.server import Server

__all__ = [
    "DEMO_MODEL",
    "LIST_TIMEOUT",
    "ModelChoice",
    "default_client",
    "demo_client",
    "demo_server",
    "resolve_model",
]

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


log = logging.getLogger("nbchat")

#: (connect, read) seconds a model listing may take when a panel or ``%%chat`` starts.
LIST_TIMEOUT = (5.0, 15.0)


@dataclass(frozen=True)
class ModelChoice:
    """What :func:`resolve_model` decided."""

    #: The model to use; empty when the user must pick one.
    model: str
    #: The server's models (for the panel's picker); empty when unknown or not asked.
    models: list[str] = field(default_factory=list)
    #: Why the user must pick (for people), or empty.
    note: str = ""


def resolve_model(client: Client, model: str | None) -> ModelChoice:
    """The model rule shared by the panel, ``%%chat`` and batch and comparison runs.

    A model given is used as it is (the server is not asked). Without one the server's
    listing (:meth:`Client.models`) decides: exactly one model is used; several are offered
    to pick from (the model stays empty); none, no listing or a failed listing leave the
    model empty with a note saying why, and free text stays possible.
    """
    if model:
        return ModelChoice(model)
    try:
        models = client.models(timeout=LIST_TIMEOUT, max_retries=0)  # a panel waits on it
    except NotFoundError:
        return ModelChoice("", [], "no model given, and the server lists none: type its name")
    except APIError as exc:
        log.info("could not list the server's models: %s", exc.message)
        return ModelChoice("", [], f"no model given, and listing the models failed: {exc.message}")
    if len(models) == 1:
        return ModelChoice(models[0], models)
    if not models:
        return ModelChoice("", [], "no model given, and the server lists none: type its name")
    shown = ", ".join(models[:5]) + (", ..." if len(models) > 5 else "")
    return ModelChoice(
        "", models, f"no model given: pick one of the server's {len(models)} ({shown})"
    )
