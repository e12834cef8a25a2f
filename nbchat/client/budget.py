"""A spending limit in USD: ``Client(budget=2.00)``, for classrooms and batch runs.

Before a request is sent, its worst case is priced (:func:`worst_case`): every prompt token it
could have plus ``max_tokens`` of reply. When that exceeds what remains, the request is refused
with :class:`~nbchat.BudgetExceeded`, and nothing reaches the server. With no price known for
the model, a budget refuses rather than guesses.

* Prompt tokens are bounded by the UTF-8 bytes of the messages (a byte-level BPE token covers at
  least one byte) plus :data:`TOKENS_PER_MESSAGE` per message for the role markers. That bound
  is a worst case, not a guess: a request the budget lets through cannot cost more.
* Without ``max_tokens`` the reply is assumed to be at most :data:`DEFAULT_MAX_TOKENS` tokens
  (the refusal says so); set ``max_tokens`` to bound it for sure.
* While a request runs, its worst case is reserved, so concurrent requests cannot together
  overspend; when it ends, its cost is charged (the worst case when the cost is unknown, e.g.
  a stopped reply that reported no usage).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

from nbchat._exceptions import BudgetExceeded, ConfigError
from nbchat.data import prices
from nbchat.records import Usage

__all__ = ["DEFAULT_MAX_TOKENS", "TOKENS_PER_MESSAGE", "Budget", "prompt_tokens_bound"]

#: Role markers and separators per message (OpenAI's chat format uses 3-4).
TOKENS_PER_MESSAGE = 4
#: The reply length assumed when ``max_tokens`` is not set.
DEFAULT_MAX_TOKENS = 4096


def prompt_tokens_bound(payload: Mapping[str, Any]) -> int:
    """At most how many prompt tokens a request body can be (see the module docstring)."""
    total = 0
    for m in payload.get("messages") or []:
        content = m.get("content") if isinstance(m, Mapping) else None
        text = content if isinstance(content, str) else str(content or "")
        total += len(text.encode("utf-8", "surrogatepass")) + TOKENS_PER_MESSAGE
    return total


def _usd(x: float) -> str:
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"


class Budget:
    """A limit in USD, what was spent under it, and what running requests have reserved."""

    def __init__(self, limit: float) -> None:
        if isinstance(limit, bool) or not isinstance(limit, (int, float)):
            raise ConfigError("budget must be a number of US dollars")
        if not math.isfinite(limit) or limit < 0:
            raise ConfigError(f"budget must be a finite number >= 0, not {limit!r}")
        self.limit = float(limit)
        self.spent = 0.0
        self.reserved = 0.0
        self._lock = threading.Lock()

    @property
    def remaining(self) -> float:
        """What is left to spend (the limit less what finished requests cost)."""
        return max(0.0, self.limit - self.spent)

    def to_dict(self) -> dict[str, float]:
        return {"limit": self.limit, "spent": self.spent, "remaining": self.remaining}

    def __repr__(self) -> str:
        return f"Budget(limit={self.limit!r}, spent={self.spent!r})"

    def worst_case(
        self,
        payload: Mapping[str, Any],
        model: str,
        url: str,
        provider: str | None,
        max_tokens: int | None,
    ) -> tuple[float, int, int]:
        """(USD, prompt tokens, reply tokens) of the worst case; BudgetExceeded with no price."""
        prompt = prompt_tokens_bound(payload)
        reply = max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS
        usage = Usage(prompt, reply, prompt + reply)
        quote = prices.cost(usage, model, url, provider=provider, warn=False)  # refusal says it
        if quote is None:
            key = prices.model_key(model)
            raise BudgetExceeded(
                f"refused: a budget is set ({_usd(self.limit)}), but no price is known for "
                f"model {key!r}, so this request's cost cannot be bounded; a budget refuses "
                "rather than guesses. Set a price with " + prices.HOW_TO_SET.format(model=key),
                remaining=self.remaining,
                spent=self.spent,
                budget=self.limit,
            )
        return quote.usd, prompt, reply

    def reserve(
        self,
        payload: Mapping[str, Any],
        model: str,
        url: str,
        provider: str | None,
        max_tokens: int | None,
        *,
        hold: bool = True,
    ) -> float:
        """Refuse the request (BudgetExceeded) or reserve its worst case (returned).

        ``hold=False`` only checks (nothing is reserved).
        """
        usd, prompt, reply = self.worst_case(payload, model, url, provider, max_tokens)
        with self._lock:
            left = self.limit - self.spent - self.reserved
            if usd > left:
                assumed = "" if max_tokens is not None else ", assumed as max_tokens is unset"
                raise BudgetExceeded(
                    f"refused before sending: this request could cost up to {_usd(usd)} "
                    f"(at most {prompt:,} prompt tokens + {reply:,} reply tokens{assumed}), "
                    f"but {_usd(max(0.0, left))} of the {_usd(self.limit)} budget remains "
                    f"({_usd(self.spent)} spent"
                    + (f", {_usd(self.reserved)} held by running requests" if self.reserved else "")
                    + "). Lower max_tokens, start a shorter conversation, or raise the budget.",
                    worst_case=usd,
                    remaining=max(0.0, left),
                    spent=self.spent,
                    budget=self.limit,
                )
            if hold:
                self.reserved += usd
        return usd

    def settle(self, reserved: float, cost: float | None) -> None:
        """A request ended: release its reservation, charge its cost (unknown: the worst case)."""
        with self._lock:
            self.reserved = max(0.0, self.reserved - reserved)
            self.spent += reserved if cost is None else cost
