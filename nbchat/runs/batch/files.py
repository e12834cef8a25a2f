"""OpenAI Batch files: the JSONL input ``batch(..., to_file=...)`` writes, and the output
:func:`read_batch_results` joins back into ``batch()``'s columns.

Input (what the OpenAI Batch API and ``vllm run-batch`` read), one request per line::

    {"custom_id": "<request hash>", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": ..., "messages": [...], ...}}

``custom_id`` is the request's fingerprint (``request_hash``, the cache key); identical
requests are written once. ``body`` is the request payload without ``stream`` and
``stream_options``. Output, one line per request, in any order::

    {"id": ..., "custom_id": ..., "response": {"status_code": 200, "request_id": ...,
     "body": <chat.completion>}, "error": null}

A line with ``error`` (or a non-200 status) makes its rows ``error``; a request with no line
in the given files is ``error`` ("no result"); a reply is validated against the schema of
``like`` when it had one. Tokens come from each body's ``usage``; ``ttft``, ``latency`` and
``attempts`` are unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbchat._exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from nbchat.runs.batch.engine import Result
    from nbchat.runs.batch.plan import Plan

__all__ = ["BATCH_URL", "read_batch_results", "write_requests"]

BATCH_URL = "/v1/chat/completions"
NO_RESULT = "no result for this request in the output file(s)"


def write_requests(plan: Plan, path: str | Path) -> int:
    """Write one line per unique request; returns how many lines."""
    seen: set[str] = set()
    lines: list[str] = []
    for key, request in zip(plan.keys, plan.requests, strict=True):
        if key is None or request is None or key in seen:
            continue
        seen.add(key)
        body = {k: v for k, v in request.payload.items() if k not in ("stream", "stream_options")}
        line = {"custom_id": key, "method": "POST", "url": BATCH_URL, "body": body}
        lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def read_batch_results(path: str | Path | Iterable[str | Path], like: Any = None) -> pd.DataFrame:
    """OpenAI Batch output (and error) files as ``batch()``'s result frame.

    Parameters
    ----------
    path:
        A JSONL file, or several (the output file and the error file).
    like:
        The frame ``batch(..., to_file=...)`` (or ``dry_run=True``, or a run) returned: the
        result then has its index and rows, matched on ``request_hash``. Without it, one row
        per line, indexed by ``custom_id``.
    """
    import pandas as pd

    from nbchat.runs.batch.results import ATTRS_KEY, build_frame
    from nbchat.runs.batch.schema import OutputSchema

    paths = [path] if isinstance(path, (str, Path)) else list(path)
    results: dict[str, Result] = {}
    models: list[str] = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                    custom_id = str(line["custom_id"])
                except (ValueError, KeyError, TypeError):
                    raise ConfigError(f"{p}:{n} is not an OpenAI Batch output line") from None
                results[custom_id] = _result(line)
                if results[custom_id].model:
                    models.append(str(results[custom_id].model))
    model = models[0] if models else ""
    schema = None
    if like is not None:
        if not isinstance(like, pd.DataFrame) or "request_hash" not in like.columns:
            raise ConfigError("like= takes the frame batch() returned (with request_hash)")
        keys = [None if pd.isna(k) else str(k) for k in like["request_hash"].tolist()]
        skip = (
            [None if pd.isna(e) else str(e) for e in like["error"].tolist()]
            if "error" in like.columns
            else [None] * len(keys)
        )
        meta = like.attrs.get(ATTRS_KEY) or {}
        if meta.get("schema_json"):
            schema = OutputSchema(meta["schema_json"], str(meta.get("schema") or "row"))
        if "model" in like.columns and len(like):
            first = like["model"].dropna()
            model = str(first.iloc[0]) if len(first) else model
        index = like.index
        for k in keys:
            if k is not None and k not in results:
                results[k] = _missing()
    else:
        keys = list(results)
        skip = [None] * len(keys)
        index = pd.Index(keys, name="custom_id")
    frame = build_frame(index, keys, skip, results, model, schema)
    frame.attrs[ATTRS_KEY] = {
        "source": [str(p) for p in paths],
        "schema": None if schema is None else schema.name,
        "schema_json": None if schema is None else schema.json_schema,
    }
    return frame


def _missing() -> Result:
    from nbchat.runs.batch.engine import Result

    return Result("error", error=NO_RESULT, error_kind="missing", attempts=None)


def _result(line: dict[str, Any]) -> Result:
    from nbchat.backends import get_backend
    from nbchat.runs.batch.engine import Result

    error = line.get("error")
    response = line.get("response") or {}
    status = response.get("status_code")
    body = response.get("body")
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        code = error.get("code") if isinstance(error, dict) else None
        kind = str(code or "batch_error")
        return Result("error", error=str(message or error), error_kind=kind, attempts=None)
    if status != 200 or not isinstance(body, dict):
        detail = body.get("error") if isinstance(body, dict) else None
        message = detail.get("message") if isinstance(detail, dict) else None
        return Result(
            "error",
            error=f"HTTP {status}: {message or 'no reply body'}",
            error_kind=f"HTTP {status}",
            attempts=None,
        )
    try:
        delta = get_backend("openai").parse_sync(body)
    except Exception as exc:
        problem = f"malformed reply body: {exc}"
        return Result("error", error=problem, error_kind="malformed", attempts=None)
    usage = delta.usage
    return Result(
        "complete",
        content=delta.text,
        finish_reason=delta.finish_reason,
        prompt_tokens=usage.prompt if usage else None,
        completion_tokens=usage.completion if usage else None,
        total_tokens=usage.total if usage else None,
        model=delta.model or body.get("model"),
        attempts=None,
    )
