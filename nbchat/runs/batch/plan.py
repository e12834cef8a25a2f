"""What a batch run will send: each row's request, its fingerprint, and the unique jobs.

Resolves the client (``client=None``: the configured API when its key is set, else the embedded
demo server, as ``ChatPanel`` does) and the model (``model=None``: the demo model on the demo
server, else the server's only listed model, else a :class:`~nbchat.ConfigError`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbchat._exceptions import ConfigError
from nbchat.records import check_params
from nbchat.runs.batch.limits import estimate_prompt_tokens
from nbchat.runs.batch.prompts import as_frame, build_prompts
from nbchat.runs.batch.schema import OutputSchema, resolve_schema

if TYPE_CHECKING:
    import pandas as pd

    from nbchat.client import Client, Request
    from nbchat.runs.batch.engine import Job

__all__ = ["Plan", "make_plan", "resolve_client", "resolve_model"]


@dataclass
class Plan:
    frame: pd.DataFrame
    client: Client
    model: str
    schema: OutputSchema | None
    params: dict[str, Any]
    messages: list[list[dict[str, Any]] | None]
    skip: list[str | None]
    requests: list[Request | None]
    keys: list[str | None]
    prompt_estimates: list[int | None]

    @property
    def max_tokens(self) -> int | None:
        value = self.params.get("max_tokens")
        return int(value) if value is not None else None

    def jobs(self) -> list[Job]:
        """One job per unique request, in first-row order."""
        from nbchat.runs.batch.engine import Job

        jobs: dict[str, Job] = {}
        for i, key in enumerate(self.keys):
            if key is None:
                continue
            job = jobs.get(key)
            if job is None:
                request = self.requests[i]
                estimate = self.prompt_estimates[i]
                assert request is not None and estimate is not None
                jobs[key] = job = Job(key, request, [], estimate, self.max_tokens)
            job.rows.append(i)
        return list(jobs.values())


def resolve_client(client: Client | None, api: str = "egp") -> tuple[Client, bool]:
    """``(client, is_demo)``."""
    if client is not None:
        return client, False
    from nbchat.runs.defaults import default_client

    return default_client(api)


def resolve_model(model: str | None, client: Client, is_demo: bool) -> str:
    """The panel's rule (``nbchat.runs.defaults.resolve_model``): a model given is used; else
    the demo model on the demo server, else the server's only listed model; else a
    ConfigError saying why there is none."""
    from nbchat.runs import defaults

    wanted = model or (defaults.DEMO_MODEL if is_demo else None)
    rule = getattr(defaults, "resolve_model", None)
    if rule is not None:
        choice = rule(client, wanted)
        if choice.model:
            return str(choice.model)
        raise ConfigError(f"model= is required: {choice.note}")
    if wanted:
        return wanted
    raise ConfigError("model= is required for this client (e.g. model='gpt-4o-mini')")


def make_plan(
    data: Any,
    prompt: str | Callable[[dict[str, Any]], Any],
    model: str | None,
    client: Client | None,
    system: str | None,
    schema: Any,
    params: Mapping[str, Any],
    *,
    api: str = "egp",
    stream: bool = True,
) -> Plan:
    client, is_demo = resolve_client(client, api)
    model = resolve_model(model, client, is_demo)
    frame = as_frame(data)
    resolved = resolve_schema(schema)
    checked = check_params(params)  # a bad parameter fails here, before any request
    instructions = None
    if resolved is not None:
        if client.api == "openai":
            extra = dict(checked.get("extra") or {})
            extra.setdefault("response_format", resolved.response_format())
            checked["extra"] = extra
        else:
            instructions = resolved.instructions()
    prompts = build_prompts(frame, prompt, system, instructions)
    requests: list[Request | None] = []
    keys: list[str | None] = []
    estimates: list[int | None] = []
    for msgs in prompts.messages:
        if msgs is None:
            requests.append(None)
            keys.append(None)
            estimates.append(None)
            continue
        req = client.request(msgs, model, stream=stream, **checked)
        # The engine retries (through its rate limits); the client's own retries are off.
        req = dataclasses.replace(req, max_retries=0)
        requests.append(req)
        keys.append(req.fingerprint())
        estimates.append(estimate_prompt_tokens(msgs))
    return Plan(
        frame,
        client,
        model,
        resolved,
        checked,
        prompts.messages,
        prompts.skip,
        requests,
        keys,
        estimates,
    )
