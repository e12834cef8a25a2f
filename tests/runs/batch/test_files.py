"""OpenAI Batch files: to_file= writes the input format; read_batch_results joins the output
back. The round trip: the embedded server answers every line (each body POSTed to its OpenAI
endpoint) and the output file is written in OpenAI's Batch output format."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import requests

import nbchat
from nbchat.runs.batch.results import COLUMNS
from nbchat.server import Server

from .test_schema import Label


def _answer_every_line(server: Server, requests_path: Path, output_path: Path) -> int:
    """What the OpenAI Batch API does with an input file, against the embedded server."""
    lines = []
    for n, raw in enumerate(requests_path.read_text().splitlines()):
        item = json.loads(raw)
        assert item["method"] == "POST" and item["url"] == "/v1/chat/completions"
        assert "stream" not in item["body"] and "stream_options" not in item["body"]
        resp = requests.post(server.url + item["url"], json=item["body"], timeout=30)
        out = {
            "id": f"batch_req_{n}",
            "custom_id": item["custom_id"],
            "response": {"status_code": resp.status_code, "request_id": f"req_{n}",
                         "body": resp.json()},
            "error": None,
        }  # fmt: skip
        lines.append(json.dumps(out))
    lines.reverse()  # the output's order is not the input's
    output_path.write_text("\n".join(lines) + "\n")
    return len(lines)


def test_round_trip_gives_the_same_columns_as_a_run(
    server: Server, openai_client: nbchat.Client, tmp_path: Path
) -> None:
    df = pd.DataFrame(
        {"text": ["What is a token?", "How does streaming work?", "What is a token?", None]},
        index=["a", "b", "c", "d"],
    )
    path = tmp_path / "requests.jsonl"
    plan = nbchat.batch(df, "{text}", model="demo", client=openai_client, to_file=path,
                        system="Be brief.", max_tokens=40)  # fmt: skip
    assert server.stats()["requests"] == 0  # writing the file sends nothing
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 2  # identical requests once; the skipped row not at all
    assert {x["custom_id"] for x in lines} == set(plan["request_hash"].dropna())
    assert lines[0]["body"]["max_tokens"] == 40
    output = tmp_path / "output.jsonl"
    _answer_every_line(server, path, output)

    back = nbchat.read_batch_results(output, like=plan)
    run = nbchat.batch(df, "{text}", model="demo", client=openai_client, system="Be brief.",
                       max_tokens=40, progress=False)  # fmt: skip
    assert list(back.columns) == list(COLUMNS) and back.index.equals(df.index)
    same = ["content", "status", "finish_reason", "prompt_tokens", "completion_tokens",
            "total_tokens", "request_hash", "model"]  # fmt: skip
    pd.testing.assert_frame_equal(back[same], run[same])
    assert back["ttft"].isna().all() and back.loc[["a", "b", "c"], "attempts"].isna().all()
    assert back.loc["d", "status"] == "skipped"


def test_errors_and_missing_lines(
    server: Server, openai_client: nbchat.Client, tmp_path: Path
) -> None:
    path = tmp_path / "r.jsonl"
    plan = nbchat.batch(["one", "two", "three"], "{text}", model="echo", client=openai_client,
                        to_file=path)  # fmt: skip
    keys = list(plan["request_hash"])
    good = {"status_code": 200, "body": requests.post(
        server.openai_url, json={"model": "echo", "messages": [{"role": "user", "content": "one"}]},
        timeout=10).json()}  # fmt: skip
    out = tmp_path / "out.jsonl"
    err = tmp_path / "errors.jsonl"
    out.write_text(json.dumps({"custom_id": keys[0], "response": good, "error": None}) + "\n")
    failed = {"custom_id": keys[1], "response": None,
              "error": {"code": "batch_expired", "message": "This line was not run."}}  # fmt: skip
    err.write_text(json.dumps(failed) + "\n")
    back = nbchat.read_batch_results([out, err], like=plan)
    assert list(back["status"]) == ["complete", "error", "error"]
    assert back.loc[0, "content"] == "one"
    assert "not run" in back.loc[1, "error"] and "no result" in back.loc[2, "error"]
    alone = nbchat.read_batch_results(out)
    assert list(alone.index) == [keys[0]] and alone.index.name == "custom_id"


def test_schema_travels_with_the_plan(
    server: Server, openai_client: nbchat.Client, tmp_path: Path
) -> None:
    path = tmp_path / "r.jsonl"
    plan = nbchat.batch(["I love streaming"], "{text}", model="demo", client=openai_client,
                        schema=Label, to_file=path)  # fmt: skip
    assert json.loads(path.read_text())["body"]["response_format"]["type"] == "json_schema"
    output = tmp_path / "o.jsonl"
    _answer_every_line(server, path, output)
    back = nbchat.read_batch_results(output, like=plan)
    assert back.loc[0, "status"] == "complete" and back.loc[0, "sentiment"] == "positive"


def test_to_file_needs_an_openai_client(egp: nbchat.Client, tmp_path: Path) -> None:
    with pytest.raises(nbchat.ConfigError, match="OpenAI"):
        nbchat.batch(["x"], "{text}", model="demo", client=egp, to_file=tmp_path / "x.jsonl")
