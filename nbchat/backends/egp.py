"""Scale EGP / Spellbook chat-completions (PROTOCOL.md 2)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nbchat.backends.base import Params, usage_of, wire_params
from nbchat.backends.messages import egp_messages
from nbchat.records import Delta, ToolRequest

__all__ = ["EGP"]

_new = tuple.__new__


class EGP:
    """``POST {base_url}/chat-completions`` with ``x-api-key``; replies in role ``agent``."""

    name = "egp"
    default_base_url = "https://api.spellbook.scale.com/egp/v1"
    base_url_env = "NBCHAT_BASE_URL"
    api_key_env = "SPELLBOOK_API_KEY"

    def endpoint(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/chat-completions"

    def headers(self) -> dict[str, str]:
        return {"accept": "application/json", "content-type": "application/json"}

    def auth(self, header: str | None) -> tuple[str, str]:
        return (header or "x-api-key"), ""

    def build_payload(
        self,
        messages: Iterable[Mapping[str, Any]],
        model: str,
        params: Params,
        stream: bool,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": egp_messages(messages)}
        if stream:
            body["stream"] = True
        # Only the parameters the user set are sent (PROTOCOL.md 2.1); camelCase on the wire.
        mp = wire_params(self.name, params)
        if mp:
            body["model_parameters"] = mp
        body.update(params.get("extra") or {})
        return body

    def parse_event(self, data: Any) -> Delta:
        # Fast path for the usual streamed chunk: a text delta and nothing else. Indexing
        # is cheaper than .get(); a missing key, or a value that is not an object, raises
        # and the general code decides.
        try:
            cc = data["chat_completion"]
            msg = cc["message"]
            content = msg["content"]
            if (
                type(content) is str
                and data["token_usage"] is None
                and cc["finish_reason"] is None
                and msg.get("tool_request") is None
            ):
                # tuple.__new__ skips the NamedTuple's Python-level __new__.
                delta: Delta = _new(Delta, (content, None, None, None, (), None, None))
                return delta
        except (KeyError, TypeError):
            pass
        return self._parse(data)

    def parse_sync(self, data: Any) -> Delta:
        # A reply without chat_completion.message ({} or an OpenAI body) is malformed.
        cc = data.get("chat_completion") if isinstance(data, dict) else None
        if not isinstance(cc, dict) or not isinstance(cc.get("message"), dict):
            raise ValueError(
                "no 'chat_completion.message' in the reply (is this an EGP server? api='openai'?)"
            )
        return self._parse(data)

    def is_complete(self, saw_done: bool, saw_finish: bool) -> bool:
        # EGP ends a stream with the end of the body; finish_reason is often null.
        return True

    def fallback_payload(
        self, payload: Mapping[str, Any], status: int | None, message: str
    ) -> dict[str, Any] | None:
        return None

    @staticmethod
    def _parse(data: Any) -> Delta:
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        cc = data.get("chat_completion") or {}
        if not isinstance(cc, dict):
            raise ValueError("chat_completion is not an object")
        msg = cc.get("message") or {}
        if not isinstance(msg, dict):
            raise ValueError("chat_completion.message is not an object")
        content = msg.get("content")
        text = content if isinstance(content, str) else ""
        tool = None
        tr = msg.get("tool_request")
        if isinstance(tr, dict) and tr.get("name"):
            args = tr.get("arguments", "")
            tool = ToolRequest(str(tr["name"]), args if isinstance(args, str) else str(args))
        usage = None
        tu = data.get("token_usage")
        if isinstance(tu, dict):
            usage = usage_of(tu.get("prompt"), tu.get("completion"), tu.get("total"))
        finish = cc.get("finish_reason")
        return Delta(
            text=text,
            finish_reason=finish if isinstance(finish, str) else None,
            usage=usage,
            tool_request=tool,
        )
