"""Record real sessions to a cassette and replay them through ``serve(replay=...)``."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

import nbchat
from nbchat.recording import Recorder, load_cassette
from nbchat.records import Reply
from nbchat.server import serve

CANARY = "sk-canary-5f1d0c9a7e3b4d21"
TIMED = "demo?tps=50"  # the live server streams at 50 tokens per second for this model
MAX_TOKENS = 25


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


@dataclass
class Step:
    api: str
    stream: bool
    messages: list[dict[str, str]]
    model: str = TIMED


@dataclass
class Outcome:
    reply: Reply | None = None
    error: nbchat.APIError | None = None
    requests_made: int = 0


@dataclass
class Session:
    path: Path
    steps: list[Step]
    outcomes: list[Outcome] = field(default_factory=list)


def base(url: str, api: str) -> str:
    return url + ("/egp/v1" if api == "egp" else "/v1")


def run(url: str, steps: list[Step], recorder: Recorder | None = None) -> list[Outcome]:
    """Run each step with a fresh client (key = the canary) and collect what happened."""
    out: list[Outcome] = []
    for step in steps:
        client = nbchat.Client(
            base_url=base(url, step.api), api_key=CANARY, api=step.api, recorder=recorder
        )
        outcome = Outcome()
        if not step.stream:
            outcome.reply = client.complete(step.messages, step.model, max_tokens=MAX_TOKENS)
        else:
            stream = client.stream(step.messages, step.model, max_tokens=MAX_TOKENS)
            try:
                with stream:
                    for _ in stream:
                        pass
            except nbchat.APIError as exc:
                outcome.error = exc
            outcome.reply = stream.reply
            outcome.requests_made = stream.requests_made
        out.append(outcome)
        client.close()
    return out


def conversation() -> list[Step]:
    q1 = [user("What is a token?")]
    q2 = [*q1, {"role": "assistant", "content": "(first answer)"}, user("And streaming?")]
    q3 = [user("What does temperature do?")]
    return [
        Step("egp", True, q1),
        Step("egp", False, q2),
        Step("openai", True, q3),
        Step("openai", False, [user("Say something short.")]),
        Step("openai", True, [user("This one fails.")], model="demo?fault=401"),
        Step("egp", True, [user("This one breaks off.")], model="demo?fault=drop&after=3"),
    ]


@pytest.fixture(scope="module")
def session(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Session:
    path = tmp_path_factory.mktemp("cassettes") / "session.json"
    steps = conversation()
    with Recorder(path) as rec:
        outcomes = run(live_server.url, steps, rec)
    return Session(path, steps, outcomes)


@pytest.fixture
def replay(session: Session) -> Iterator[Any]:
    with serve(replay=session.path, speed=0) as server:
        yield server


# -- the cassette ----------------------------------------------------------------------


def test_the_recorded_session_is_what_we_expect(session: Session) -> None:
    kinds = [
        (o.reply.status if o.reply else None, type(o.error).__name__) for o in session.outcomes
    ]
    assert kinds == [
        ("complete", "NoneType"),
        ("complete", "NoneType"),
        ("complete", "NoneType"),
        ("complete", "NoneType"),
        ("error", "AuthenticationError"),
        ("incomplete", "StreamError"),
    ]


def test_cassette_shape_and_no_key_anywhere(session: Session) -> None:
    text = session.path.read_text("utf-8")
    assert CANARY not in text
    assert "canary" not in text.lower()
    doc = json.loads(text)
    assert doc["version"] == 1
    exchanges = doc["exchanges"]
    assert len(exchanges) == len(session.steps)
    for ex, step, outcome in zip(exchanges, session.steps, session.outcomes, strict=True):
        assert set(ex) >= {"api", "path", "request", "status", "content_type", "body", "reply"}
        assert ex["api"] == step.api
        assert ex["path"] == ("/egp/v1/chat-completions" if step.api == "egp" else
                              "/v1/chat/completions")  # fmt: skip
        assert ex["request"]["messages"] == step.messages
        assert ex["request"]["model"] == step.model
        assert "headers" not in ex
        body = b"".join(base64.b64decode(b64) for _, b64 in ex["body"])
        assert CANARY.encode() not in body
        times = [t for t, _ in ex["body"]]
        assert times == sorted(times)
        assert outcome.reply is not None
        assert ex["reply"]["content"] == outcome.reply.content
        assert ex["reply"]["status"] == outcome.reply.status
        assert ex["reply"]["ttft"] == outcome.reply.ttft
    assert exchanges[0]["content_type"].startswith("text/event-stream")
    assert exchanges[1]["content_type"].startswith("application/json")
    assert len(exchanges[0]["body"]) > 5  # streamed in many pieces
    assert exchanges[4]["status"] == 401
    assert b"Incorrect API key" in base64.b64decode(exchanges[4]["body"][0][1])
    assert exchanges[5].get("interrupted")
    load_cassette(session.path)  # valid


def test_recorder_writes_an_empty_cassette_on_close(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "empty.json"
    with Recorder(path):
        pass
    assert json.loads(path.read_text()) == {"version": 1, "exchanges": []}


# -- replay ----------------------------------------------------------------------------


def _timing_misses(session: Session, replayed: list[Outcome]) -> tuple[list[str], list[str]]:
    """(measurements, misses): ttft and latency recorded -> replayed, and those out of bounds."""
    seen: list[str] = []
    misses: list[str] = []
    for rec, rep in zip(session.outcomes, replayed, strict=True):
        assert rec.reply is not None and rep.reply is not None
        for name in ("ttft", "latency"):
            a, b = getattr(rec.reply, name), getattr(rep.reply, name)
            if a is None:
                assert b is None
                continue
            assert b is not None
            text = f"{name} {a * 1000:.0f}->{b * 1000:.0f} ms"
            seen.append(text)
            if abs(a - b) > max(0.1 * a, 0.03):
                misses.append(text)
    return seen, misses


def test_replay_gives_the_same_replies_and_timing(session: Session) -> None:
    misses: list[str] = []
    for _attempt in range(3):  # a loaded machine can delay a thread now and then
        with serve(replay=session.path, speed=1.0) as server:
            replayed = run(server.url, session.steps)
            assert len(server.requests) == len(session.steps)
        for rec, rep in zip(session.outcomes, replayed, strict=True):
            assert rec.reply is not None and rep.reply is not None
            assert rep.reply.content == rec.reply.content
            assert rep.reply.usage == rec.reply.usage
            assert rep.reply.status == rec.reply.status
            assert rep.reply.finish_reason == rec.reply.finish_reason
            assert type(rep.error) is type(rec.error)
            if rec.error is not None:
                assert rep.error is not None and rep.error.status == rec.error.status
        seen, misses = _timing_misses(session, replayed)
        print("replay timing:", "; ".join(seen))
        if not misses:
            break
    assert not misses, f"replayed timing off by more than max(10%, 30 ms): {misses}"
    # the streams take long enough for the timing check to mean something
    first = session.outcomes[0].reply
    assert first is not None and first.latency is not None and first.latency > 0.3


def test_replay_at_speed_zero_is_fast(session: Session, replay: Any) -> None:
    outcomes = run(replay.url, session.steps)
    assert [o.reply.content for o in outcomes if o.reply] == [
        o.reply.content for o in session.outcomes if o.reply
    ]
    first = outcomes[0].reply
    assert first is not None and first.latency is not None and first.latency < 0.3


def test_mismatched_request_gets_a_clear_409(session: Session, replay: Any) -> None:
    client = nbchat.Client(base_url=replay.url + "/egp/v1", api_key=None)
    stream = client.stream([user("Something else entirely")], "demo")
    with pytest.raises(nbchat.APIError) as info, stream:
        for _ in stream:
            pass
    assert info.value.status == 409
    message = info.value.message
    assert "request 1 does not match the cassette" in message
    assert "expected last user message 'What is a token?', got 'Something else entirely'" in (
        message
    )
    assert stream.requests_made == 1  # x-should-retry: false
    # the cassette did not advance: the right request still replays
    [outcome] = run(replay.url, session.steps[:1])
    assert session.outcomes[0].reply is not None and outcome.reply is not None
    assert outcome.reply.content == session.outcomes[0].reply.content


def test_wrong_endpoint_and_wrong_history_are_described(session: Session, replay: Any) -> None:
    openai = nbchat.Client(base_url=replay.url + "/v1", api_key=None, api="openai")
    with pytest.raises(nbchat.APIError) as info:
        openai.complete(session.steps[0].messages, TIMED, max_tokens=MAX_TOKENS)
    assert info.value.status == 409
    assert "expected POST /egp/v1/chat-completions, got POST /v1/chat/completions" in (
        info.value.message
    )
    run(replay.url, session.steps[:1])
    egp = nbchat.Client(base_url=replay.url + "/egp/v1", api_key=None)
    wrong = [
        user("What is a token?"),
        {"role": "assistant", "content": "x"},
        user("And streaming?"),
    ]
    with pytest.raises(nbchat.APIError) as info:
        egp.complete(wrong, TIMED, max_tokens=MAX_TOKENS)
    assert "request 2 does not match" in info.value.message
    assert "message 2 differs: expected assistant '(first answer)', got assistant 'x'" in (
        info.value.message
    )


def test_exhausted_cassette_gets_410(session: Session, replay: Any) -> None:
    run(replay.url, session.steps)
    client = nbchat.Client(base_url=replay.url + "/egp/v1", api_key=None)
    with pytest.raises(nbchat.APIError) as info:
        client.complete([user("one more")], "demo")
    assert info.value.status == 410
    assert "Replay cassette exhausted" in info.value.message
    assert f"all {len(session.steps)} recorded exchanges were replayed" in info.value.message
    raw = requests.post(replay.url + "/v1/chat/completions", json={"messages": []}, timeout=5)
    assert raw.status_code == 410
    assert raw.headers["x-should-retry"] == "false"
    error = raw.json()["error"]
    assert "exhausted" in error["message"] and "bad request" not in error["message"].lower()
    assert error["type"] == error["code"] == "replay_exhausted"
    egp = requests.post(replay.url + "/egp/v1/chat-completions", json={"messages": []}, timeout=5)
    assert egp.status_code == 410 and egp.json()["type"] == "replay_exhausted"


def test_interrupted_body_replays_as_a_dropped_connection(session: Session, replay: Any) -> None:
    run(replay.url, session.steps[:5])
    [outcome] = run(replay.url, session.steps[5:])
    recorded = session.outcomes[5]
    assert isinstance(outcome.error, nbchat.StreamError)
    assert outcome.reply is not None and recorded.reply is not None
    assert outcome.reply.status == "incomplete"
    assert outcome.reply.content == recorded.reply.content != ""


def test_include_usage_retry_is_recorded_and_replayed(tmp_path: Path) -> None:
    from tests.scripted import Script, ScriptedServer

    rejected = b'{"error": {"message": "Unrecognized request argument supplied: stream_options"}}'
    ok = (
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    server = ScriptedServer()
    try:
        server.push(Script(status=400, content_type="application/json", body=rejected))
        server.push(Script(body=ok))
        path = tmp_path / "retry.json"
        with Recorder(path) as rec:
            client = nbchat.Client(base_url=server.url + "/v1", api="openai", recorder=rec)
            stream = client.stream([user("hi")], "m")
            with stream:
                reply = "".join(c.delta for c in stream)
        assert reply == "Hi"
    finally:
        server.stop()
    doc = load_cassette(path)
    assert [ex["status"] for ex in doc["exchanges"]] == [400, 200]
    assert doc["exchanges"][0]["reply"] is None
    assert "stream_options" in doc["exchanges"][0]["request"]
    assert "stream_options" not in doc["exchanges"][1]["request"]
    with serve(replay=path, speed=0) as replay:
        client = nbchat.Client(base_url=replay.url + "/v1", api="openai")
        stream = client.stream([user("hi")], "m")
        with stream:
            assert "".join(c.delta for c in stream) == "Hi"
        assert stream.requests_made == 2


# -- the chat panel --------------------------------------------------------------------


def _panel_view(panel: Any) -> list[tuple[Any, ...]]:
    return [(m["role"], m["content"], m["status"], m["usage"]) for m in panel.messages]


def test_chat_panel_on_the_replay_server_shows_the_recorded_session(
    live_server: Any, tmp_path: Path
) -> None:
    path = tmp_path / "panel.json"
    questions = ["What is a token?", "How does streaming work?", "And temperature?"]
    with Recorder(path) as rec:
        client = nbchat.Client(base_url=live_server.url + "/egp/v1", recorder=rec)
        panel = nbchat.ChatPanel(client=client, model="demo", max_tokens=40)
        for q in questions:
            panel.send(q).wait(30)
        recorded = _panel_view(panel)
        panel.close()
    assert [m[0] for m in recorded] == ["user", "assistant"] * 3
    assert all(m[3] for m in recorded[1::2])  # usage on each reply
    with serve(replay=path, speed=0) as server:
        client = nbchat.Client(base_url=server.url + "/egp/v1")
        panel = nbchat.ChatPanel(client=client, model="demo", max_tokens=40)
        for q in questions:
            panel.send(q).wait(30)
        assert _panel_view(panel) == recorded
        panel.close()


# -- the command line ------------------------------------------------------------------


def test_cli_serve_replay(session: Session) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "nbchat.cli", "serve", "--port", "0", "--replay",
         str(session.path), "--speed", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "replay server" in banner, process.stderr.read() if process.stderr else ""
        url = banner.rsplit(" ", 1)[1].strip()
        [outcome] = run(url, session.steps[:1])
        assert session.outcomes[0].reply is not None and outcome.reply is not None
        assert outcome.reply.content == session.outcomes[0].reply.content
    finally:
        process.terminate()
        process.wait(10)


def test_cli_serve_replay_rejects_a_bad_cassette(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"exchanges": 3}')
    result = subprocess.run(
        [sys.executable, "-m", "nbchat.cli", "serve", "--port", "0", "--replay", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "cannot replay" in result.stderr
