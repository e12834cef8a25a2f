"""Protocol adapters: pure functions between JSON and nbchat's records. No I/O."""

from __future__ import annotations

from nbchat.backends.base import Backend, Params
from nbchat.backends.egp import EGP
from nbchat.backends.openai import OpenAI

__all__ = ["BACKENDS", "EGP", "Backend", "OpenAI", "Params", "get_backend"]

BACKENDS: dict[str, Backend] = {"egp": EGP(), "openai": OpenAI()}


def get_backend(api: str) -> Backend:
    """The adapter for ``api`` ("egp" or "openai")."""
    try:
        return BACKENDS[api]
    except KeyError:
        from nbchat._exceptions import ConfigError

        raise ConfigError(f"unknown api {api!r}; expected one of {sorted(BACKENDS)}") from None
