"""The generation parameters: **the** one table of them (name, type, check, wire name per API).

The client, the backends, the panel's settings, the DataFrames and ``%%chat`` all read it,
through :mod:`nbchat.records`, which re-exports it. Split from ``records.py`` to keep each module
small; nothing here imports anything else from nbchat (but ``ConfigError``, lazily).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["PARAMS", "PARAM_NAMES", "Param", "check_params"]


# ---- the generation parameters ---------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One generation parameter: how it is checked, and its name on each API's wire.

    ``wire`` maps an API name to the request-body key; EGP puts them inside
    ``model_parameters`` (PROTOCOL.md 2.1), OpenAI at the top level (3.1).
    """

    name: str
    #: ``float``, ``int`` or ``list[str]`` (the TypeScript side: number / string[]).
    kind: Literal["float", "int", "list[str]"]
    wire: Mapping[str, str]
    minimum: float | None = None
    maximum: float | None = None
    #: Shown in the panel's settings.
    in_settings: bool = False
    help: str = ""

    def check(self, value: Any) -> Any:
        """The value, normalised; ConfigError naming the parameter when it cannot be sent."""
        from nbchat._exceptions import ConfigError

        if self.kind == "list[str]":
            if isinstance(value, str):
                return [value]
            if isinstance(value, (list, tuple)) and all(isinstance(s, str) for s in value):
                return list(value)
            raise ConfigError(
                f"{self.name} must be a string or a list of strings, not {type(value).__name__}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{self.name} must be a number, not {type(value).__name__}")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ConfigError(f"{self.name} must be a whole number, not {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(f"{self.name} must be a finite number, not {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{self.name} must be >= {self.minimum:g}, not {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{self.name} must be <= {self.maximum:g}, not {value!r}")
        return value

    def coerce(self, value: Any) -> Any:
        """A value from a form (a string or a number), checked; None/"" means unset."""
        if value is None or value == "":
            return None
        if isinstance(value, str) and self.kind != "list[str]":
            try:
                value = float(value) if self.kind == "float" else int(value)
            except ValueError:
                from nbchat._exceptions import ConfigError

                raise ConfigError(f"{self.name} must be a number, not {value!r}") from None
        return self.check(value)


PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param(
            "temperature",
            "float",
            {"egp": "temperature", "openai": "temperature"},
            minimum=0,
            in_settings=True,
            help="sampling temperature; 0 is (nearly) deterministic",
        ),
        Param(
            "max_tokens",
            "int",
            # OpenAI: Client(max_tokens_field=...) may rename it (max_completion_tokens).
            {"egp": "max_tokens", "openai": "max_tokens"},
            minimum=1,
            in_settings=True,
            help="the most tokens the reply may have",
        ),
        Param("stop", "list[str]", {"egp": "stop_sequences", "openai": "stop"}),
        Param("top_p", "float", {"egp": "topP", "openai": "top_p"}, minimum=0, maximum=1),
        # top_k is not standard OpenAI; vLLM and llama.cpp read it.
        Param("top_k", "int", {"egp": "topK", "openai": "top_k"}, minimum=1),
    )
}
#: The names of :data:`PARAMS`, in order.
PARAM_NAMES: tuple[str, ...] = tuple(PARAMS)


def check_params(params: Mapping[str, Any], *, allow_extra: bool = True) -> dict[str, Any]:
    """Check generation parameters; returns the set ones, normalised (None means unset).

    ``extra`` (a dict merged into the request body) is allowed unless ``allow_extra`` is
    False. Raises ConfigError naming an unknown parameter or a bad value.
    """
    from nbchat._exceptions import ConfigError

    allowed = [*PARAM_NAMES, *(["extra"] if allow_extra else [])]
    unknown = [k for k in params if k not in allowed]
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {sorted(unknown)}; use {allowed}"
            + (" (extra={...} is merged into the request body)" if allow_extra else "")
        )
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if key == "extra":
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise ConfigError(
                    f"extra must be a dict of request-body fields, not {type(value).__name__}"
                )
            out[key] = dict(value)
        else:
            out[key] = PARAMS[key].check(value)
    return out
