"""OpenAI-compatible chat completions (PROTOCOL.md 3): OpenAI, vLLM, Ollama, llama.cpp."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from nbchat.backends.base import Params, int_or_none, usage_of, wire_params
from nbchat.backends.messages import openai_messages
from nbchat.records import Delta

__all__ = ["OpenAI"]


class OpenAI:
    """``POST {base_url}/chat/completions`` with ``Authorization: Bearer``."""

    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    base_url_env = "OPENAI_BASE_URL"
    api_key_env = "OPENAI_API_KEY"

    def endpoint(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"content-type": "application/json"}

    def auth(self, header: str | None) -> tuple[str, str]:
        if header and header.lower() != "authorization":
            return header, ""
        return "authorization", "Bearer "

    def build_payload(
        self,
        messages: Iterable[Mapping[str, Any]],
        model: str,
        params: Params,
        stream: bool,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": openai_messages(messages)}
        if stream:
            body["stream"] = True
            if options.get("include_usage", True):
                body["stream_options"] = {"include_usage": True}
        max_field = str(options.get("max_tokens_field") or "max_tokens")
        body.update(wire_params(self.name, params, {"max_tokens": max_field}))
        body.update(params.get("extra") or {})
        return body

    def parse_event(self, data: Any) -> Delta:
        # Fast path for the usual streamed chunk: choice 0 with a text delta and nothing
        # else. It returns exactly what the general code below returns for such a chunk.
        # Indexing is cheaper than .get(); a missing key, or a value that is not an
        # object, raises and the general code decides.
        try:
            choices = data["choices"]
            if type(choices) is list and len(choices) == 1:
                choice = choices[0]
                delta = choice["delta"]
                if (
                    type(delta) is dict
                    and choice.get("finish_reason") is None
                    and choice.get("index", 0) == 0
                    and not delta.get("tool_calls")
                    and data.get("usage") is None
                    and data.get("timings") is None
                ):
                    content = delta.get("content")
                    model = data.get("model")
                    text_delta: Delta = _new(
                        Delta,
                        (
                            content if type(content) is str else "",
                            None,
                            None,
                            None,
                            (),
                            model if type(model) is str else None,
                            None,
                        ),
                    )
                    return text_delta
        except (KeyError, TypeError):
            pass
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        text = ""
        finish: str | None = None
        fragments: list[tuple[int, str | None, str | None, str]] = []
        # choices may be [] (the include_usage chunk): never index [0] blindly.
        for choice in data.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta, dict):
                content = delta.get("content")
                if isinstance(content, str):
                    text += content
                for call in delta.get("tool_calls") or []:
                    if not isinstance(call, dict):
                        continue
                    fn = call.get("function") or {}
                    index = int_or_none(call.get("index", 0))
                    if index is None:
                        raise ValueError("tool_calls[].index is not an integer")
                    fragments.append(
                        (
                            index,
                            call.get("id"),
                            fn.get("name") if isinstance(fn, dict) else None,
                            str(fn.get("arguments") or "") if isinstance(fn, dict) else "",
                        )
                    )
            fr = choice.get("finish_reason")
            if isinstance(fr, str):
                finish = fr
        usage = _usage(data.get("usage"))
        timings = data.get("timings")
        model = data.get("model")
        return Delta(
            text=text,
            finish_reason=finish,
            usage=usage,
            tool_fragments=tuple(fragments),
            model=model if isinstance(model, str) else None,
            extra={"timings": timings} if isinstance(timings, dict) else None,
        )

    def parse_sync(self, data: Any) -> Delta:
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        text = ""
        finish = None
        fragments: list[tuple[int, str | None, str | None, str]] = []
        choices = data.get("choices")
        # A reply without choices[0].message ({} or an EGP body) is malformed, not empty.
        if not isinstance(choices, list) or not choices:
            raise ValueError(
                "no 'choices' in the reply (is this an OpenAI-compatible server? api='egp'?)"
            )
        if not isinstance(choices[0], dict) or not isinstance(choices[0].get("message"), dict):
            raise ValueError("choices[0] has no 'message' object")
        if choices and isinstance(choices[0], dict):
            msg = choices[0].get("message") or {}
            if isinstance(msg, dict):
                content = msg.get("content")
                text = content if isinstance(content, str) else ""
                for i, call in enumerate(msg.get("tool_calls") or []):
                    fn = call.get("function") or {} if isinstance(call, dict) else {}
                    fragments.append(
                        (i, call.get("id"), fn.get("name"), str(fn.get("arguments") or ""))
                    )
            fr = choices[0].get("finish_reason")
            finish = fr if isinstance(fr, str) else None
        model = data.get("model")
        return Delta(
            text=text,
            finish_reason=finish,
            usage=_usage(data.get("usage")),
            tool_fragments=tuple(fragments),
            model=model if isinstance(model, str) else None,
        )

    def is_complete(self, saw_done: bool, saw_finish: bool) -> bool:
        return saw_done or saw_finish

    def fallback_payload(
        self, payload: Mapping[str, Any], status: int | None, message: str
    ) -> dict[str, Any] | None:
        """Some servers reject ``stream_options``: retry once without it (usage unknown)."""
        if "stream_options" in payload and status in (400, 422) and "stream_options" in message:
            return {k: v for k, v in payload.items() if k != "stream_options"}
        return None


# tuple.__new__ builds a Delta without the NamedTuple's Python-level __new__ (half the cost).
_new = tuple.__new__


def _usage(u: Any) -> Any:
    if not isinstance(u, dict):
        return None
    usage = usage_of(u.get("prompt_tokens"), u.get("completion_tokens"), u.get("total_tokens"))
    details = u.get("prompt_tokens_details")
    cached = int_or_none(details.get("cached_tokens")) if isinstance(details, dict) else None
    # Cached prompt tokens are priced apart (nbchat.data.prices); None when not reported.
    return dataclasses.replace(usage, cached=cached) if usage and cached is not None else usage
