"""Model listings: ``GET {base_url}/models``, read into a list of model names. No I/O.

OpenAI-compatible servers answer ``{"object": "list", "data": [{"id": ...}, ...]}`` (package
openai 3.57.0, openai/types/model.py). PROTOCOL.md describes no EGP listing; EGP's API lists
resources as pages, ``{"items": [{"id", "name", ...}], "total_item_count", ...}``, which is
what the embedded server serves at ``/egp/v1/models``. Either shape is read for either API:
gateways mix them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MODELS_PATH", "parse_models"]

#: Appended to the base URL: ``/v1/models`` (OpenAI), ``/egp/v1/models`` (EGP).
MODELS_PATH = "/models"


def parse_models(data: Any) -> list[str]:
    """The model names of a listing, in the server's order, without duplicates.

    Raises ValueError when ``data`` is not a listing.
    """
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        items, keys = data["data"], ("id", "name")
    elif isinstance(data, dict) and isinstance(data.get("items"), list):
        items, keys = data["items"], ("name", "id")
    elif isinstance(data, list):
        items, keys = data, ("id", "name")
    else:
        raise ValueError("expected {'data': [...]} (OpenAI) or {'items': [...]} (EGP)")
    names: list[str] = []
    for item in items:
        name = item if isinstance(item, str) else None
        if isinstance(item, dict):
            name = next((item[k] for k in keys if isinstance(item.get(k), str) and item[k]), None)
        if name is None:
            raise ValueError(f"a model entry without a name: {str(item)[:80]}")
        names.append(name)
    return list(dict.fromkeys(names))
