"""A redirect never carries the key to another server (issue 10, item 3).

Two real servers on 127.0.0.1: the base URL's answers 301/302/307/308 pointing at the other,
which records every request it gets. requests follows redirects for POST and strips only
``Authorization`` when the host changes, so ``x-api-key`` (EGP, or OpenAI with
``auth_header="x-api-key"``) used to reach the other server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import nbchat
from tests.scripted import Script, ScriptedServer

KEY = "sk-redirect-canary-0c5e"
OK_EGP = b'{"chat_completion": {"message": {"role": "agent", "content": "hi"}}}'


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    origin, other = ScriptedServer(), ScriptedServer()
    yield origin, other
    origin.stop()
    other.stop()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(
    ("api", "kw", "header"),
    [
        ("egp", {}, "x-api-key"),
        ("openai", {"auth_header": "x-api-key"}, "x-api-key"),
        ("openai", {}, "authorization"),
        ("egp", {"headers": {"x-selected-account-id": "acct"}}, "x-api-key"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
def test_a_redirect_is_not_followed(
    servers: tuple[ScriptedServer, ScriptedServer],
    status: int,
    api: str,
    kw: dict[str, Any],
    header: str,
    stream: bool,
) -> None:
    origin, other = servers
    origin.scripts.clear()
    other.scripts.clear()
    before = len(other.requests)
    path = "/egp/v1/chat-completions" if api == "egp" else "/v1/chat/completions"
    target = f"{other.url}{path}?token=should-not-show"
    origin.push(Script(status=status, headers={"Location": target}, body=b"moved"))
    other.push(Script(content_type="application/json", body=OK_EGP))
    base = origin.url + ("/egp/v1" if api == "egp" else "/v1")
    client = nbchat.Client(base_url=base, api=api, api_key=KEY, max_retries=2, **kw)

    with pytest.raises(nbchat.APIError) as info:
        if stream:
            with client.stream("hi", model="m") as s:
                list(s)
        else:
            client.complete("hi", model="m")

    # The origin did get the key (it is the base URL's host); the other server got nothing.
    assert origin.requests[-1]["headers"][header].endswith(KEY)
    assert len(other.requests) == before, "the redirect was followed"
    err = info.value
    assert err.status == status
    assert f"redirect from {origin.url}{path} to {other.url}{path}" in err.message
    assert "does not follow redirects" in err.message and "base_url" in err.message
    assert KEY not in repr(err) and "should-not-show" not in err.message
    assert sum(1 for r in origin.requests if r["path"] == path) >= 1
    other.scripts.clear()


def test_a_redirect_is_not_retried(servers: tuple[ScriptedServer, ScriptedServer]) -> None:
    origin, other = servers
    origin.scripts.clear()
    before = len(origin.requests)
    for _ in range(3):
        origin.push(Script(status=307, headers={"Location": other.url + "/x"}))
    client = nbchat.Client(base_url=origin.url + "/egp/v1", api_key=KEY, max_retries=2)
    with pytest.raises(nbchat.APIError, match="307 redirect"):
        client.complete("hi", model="m")
    assert len(origin.requests) == before + 1
    origin.scripts.clear()
