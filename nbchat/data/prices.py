"""What a reply cost, in USD: prices from genai-prices, or set with :func:`set_price`.

* The price database is `genai-prices <https://github.com/pydantic/genai-prices>`_ (pydantic's
  regularly updated table), never a hand-written one. Costs are ``genai_prices.calc_price`` for
  the reply's usage at the time of the request, with cached input tokens
  (``Usage.cached``) priced apart when the server reported them.
* The provider comes from the base URL: ``api.openai.com`` is OpenAI; Spellbook serves many
  providers' models, so there the model name says which (``gpt-*`` is OpenAI, ``claude-*``
  Anthropic, ...); a host genai-prices knows by its API URL is that provider; loopback and
  private hosts (the embedded demo server, a local vLLM) have no price. ``Client(price_provider=
  "openai")`` declares it for a proxy or a gateway.
* :func:`set_price` overrides the database (USD per million tokens), optionally for one base
  URL. It matches the model name as sent, the embedded server's ``?options`` suffix ignored.
* Unknown is None (NaN in DataFrames), never $0, with one :class:`~nbchat.UnpricedModelWarning`
  per model that says how to set a price.

genai-prices (and pydantic under it) is imported on the first lookup that needs it, never at
``import nbchat`` and never for a model priced with :func:`set_price` or a local server.
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import math
import threading
import urllib.parse
import warnings
from dataclasses import dataclass
from typing import Any

from nbchat._exceptions import ConfigError, UnpricedModelWarning
from nbchat.records import Usage

__all__ = ["Cost", "cost", "model_key", "provider_for", "reset", "set_price", "source_name"]

#: Hosts whose models are priced by the model name (Spellbook serves several providers).
MULTI_PROVIDER_HOSTS = ("spellbook.scale.com",)
#: What the warning and the errors tell people to run.
HOW_TO_SET = "nbchat.set_price({model!r}, input=..., output=...) (USD per 1M tokens)"


@dataclass(frozen=True)
class Cost:
    """A cost in USD and where its price came from (``source``, for people, with a date)."""

    usd: float
    source: str


@dataclass(frozen=True)
class _SetPrice:
    input: float
    output: float
    cached_input: float
    set_at: str


_lock = threading.Lock()
#: (model key, base URL or None) -> price set with set_price().
_custom: dict[tuple[str, str | None], _SetPrice] = {}
#: Models already warned about (one warning per model).
_warned: set[str] = set()


def model_key(model: str) -> str:
    """The model name prices are looked up by: as sent, the demo server's ``?options`` cut."""
    return model.split("?", 1)[0].strip()


def _base(url: str) -> str:
    """Scheme, host, port and path, without credentials, query or a trailing slash."""
    parts = urllib.parse.urlsplit(url.strip())
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"set_price: {name} must be a number (USD per 1M tokens)")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"set_price: {name} must be a finite number >= 0, not {number!r}")
    return number


def set_price(
    model: str,
    input: float,
    output: float,
    *,
    cached_input: float | None = None,
    base_url: str | None = None,
) -> None:
    """Set the price of ``model`` in USD per million tokens, overriding genai-prices.

    ``cached_input`` prices cached prompt tokens (default: ``input``); ``base_url`` limits the
    price to requests sent under that URL (default: any server). The model name is matched as
    sent, without the embedded server's ``?options`` suffix.
    """
    if not isinstance(model, str) or not model_key(model):
        raise ConfigError("set_price: model must be a model name")
    price = _SetPrice(
        _number("input", input),
        _number("output", output),
        _number("cached_input", input if cached_input is None else cached_input),
        _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    with _lock:
        _custom[(model_key(model), _base(base_url) if base_url else None)] = price


def reset() -> None:
    """Forget every price set with :func:`set_price` and every warning given (for tests)."""
    with _lock:
        _custom.clear()
        _warned.clear()


def _is_local(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_unspecified


def _genai() -> Any:
    """genai-prices' data snapshot (imported on first use: it loads a large table)."""
    from genai_prices import data_snapshot

    return data_snapshot.get_snapshot()


def _resolve(url: str, model: str, declared: str | None) -> tuple[str | None, str]:
    """(genai-prices provider id or None, the model name to look up) for a request."""
    ref = model_key(model)
    if declared:
        return declared, ref
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if not host or _is_local(host):
        return None, ref
    if host == "api.openai.com":
        return "openai", ref
    try:
        if host.endswith(MULTI_PROVIDER_HOSTS):
            # "openai/gpt-4o": the provider named before the slash, when genai-prices knows it
            prefix, _, rest = ref.partition("/")
            if rest and _known_provider(prefix) is not None:
                return prefix.lower(), rest
            return str(_genai().find_provider(ref.lower(), None, None).id), ref
        return str(_genai().find_provider(None, None, _base(url)).id), ref
    except LookupError:
        return None, ref


def _known_provider(provider_id: str) -> Any:
    """genai-prices' provider of that id, or None."""
    from genai_prices.data_snapshot import find_provider_by_id

    return find_provider_by_id(_genai().providers, provider_id)


def provider_for(url: str, model: str, declared: str | None = None) -> str | None:
    """The genai-prices provider id for a request to ``url`` for ``model``, or None."""
    return _resolve(url, model, declared)[0]


@functools.cache
def source_name() -> str:
    """``genai-prices <version>``."""
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"


def _custom_price(model: str, url: str) -> _SetPrice | None:
    key, base = model_key(model), _base(url)
    with _lock:
        scoped = [
            (len(b), p)
            for (m, b), p in _custom.items()
            if m == key and b and (base == b or base.startswith(b + "/"))
        ]
        if scoped:
            return max(scoped, key=lambda x: x[0])[1]
        return _custom.get((key, None))


def _warn(model: str, url: str, why: str) -> None:
    key = model_key(model)
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    # warn_explicit: the warning comes from a worker thread, where no frame is the user's;
    # shown as "nbchat: UnpricedModelWarning: ...", without a line of nbchat's source under it.
    warnings.warn_explicit(
        f"no price for model {key!r} ({why}): its cost is unknown (NaN), not $0. Set one with "
        + HOW_TO_SET.format(model=key),
        UnpricedModelWarning,
        filename="nbchat",
        lineno=0,
        module="nbchat.data.prices",
    )


def cost(
    usage: Usage | None,
    model: str,
    url: str,
    *,
    provider: str | None = None,
    at: _dt.datetime | None = None,
    warn: bool = True,
) -> Cost | None:
    """What ``usage`` of ``model`` at ``url`` cost at time ``at`` (default: now), or None.

    None when no price is known (with one UnpricedModelWarning per model, if ``warn``) or the
    usage lacks the prompt or completion count.
    """
    at = at or _dt.datetime.now(_dt.UTC)
    custom = _custom_price(model, url)
    known = usage is not None and usage.prompt is not None and usage.completion is not None
    if custom is not None:
        if not known:
            return None
        assert usage is not None and usage.prompt is not None and usage.completion is not None
        cached = min(usage.cached or 0, usage.prompt)
        usd = (
            (usage.prompt - cached) * custom.input
            + cached * custom.cached_input
            + usage.completion * custom.output
        ) / 1e6
        return Cost(
            usd,
            f"set_price(): ${custom.input:g} in, ${custom.output:g} out, "
            f"${custom.cached_input:g} cached per 1M tokens (set {custom.set_at})",
        )
    pid, ref = _resolve(url, model, provider)
    if pid is None:
        if warn:
            host = urllib.parse.urlsplit(url).hostname or url
            where = "a local server" if _is_local(host) else "a host genai-prices does not know"
            _warn(model, url, f"{host} is {where}")
        return None
    from genai_prices import Usage as GUsage
    from genai_prices import calc_price

    try:
        if not known:
            _genai().find_provider_model(ref, None, pid, None)
            return None
        assert usage is not None
        counts: dict[str, int] = {"input_tokens": usage.prompt or 0}
        counts["output_tokens"] = usage.completion or 0
        if usage.cached is not None:
            counts["cache_read_tokens"] = min(usage.cached, usage.prompt or 0)
        calc = calc_price(GUsage(**counts), ref, provider_id=pid, genai_request_timestamp=at)
    except LookupError:
        if warn:
            _warn(model, url, f"genai-prices has no {ref!r} for provider {pid!r}")
        return None
    when = calc.auto_update_timestamp or at
    return Cost(
        float(calc.total_price),
        f"{source_name()}: {calc.provider.name} {calc.model.id}, prices in effect {when:%Y-%m-%d}",
    )
