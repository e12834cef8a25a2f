"""The client layer: ``Client`` builds an immutable :class:`Request`; a :class:`Stream` sends
it through the transport (with the retry policy) and folds what comes back into a Reply with
the backends' accumulator.

::

    client = Client(base_url=..., api_key=..., api="egp")   # or api="openai"
    reply = client.complete(messages, model="...")
    with client.stream(messages, model="...") as stream:
        for chunk in stream:
            print(chunk.delta, end="")
    stream.reply
"""

from __future__ import annotations

from nbchat.client.client import DEFAULT_TIMEOUT, Client
from nbchat.client.request import Request
from nbchat.client.stream import Stream

__all__ = ["DEFAULT_TIMEOUT", "Client", "Request", "Stream"]
