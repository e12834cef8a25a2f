"""``nbchat serve`` as a real subprocess: prints the URL after binding, serves, stops cleanly."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from nbchat.cli import build_parser, main

from .conftest import EGP, USER_TOKEN


def start(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start the server process; return it and its banner lines (up to "Press Ctrl+C")."""
    process = subprocess.Popen(
        [sys.executable, *args, "--port", "0", "--tokens-per-second", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl+C"):
            break
    return process, lines


@pytest.fixture(params=[["-m", "nbchat.cli", "serve"], ["-m", "nbchat.server"]])
def cli_server(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process, lines = start(*request.param)
    try:
        assert lines, process.stderr.read() if process.stderr else ""
        url = lines[0].rsplit(" ", 1)[1]
        assert lines[1].strip() == f"EGP:    {url}{EGP}"
        assert lines[2].strip().startswith(f"OpenAI: {url}/v1/chat/completions")
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def test_cli_serves_and_stops_on_sigterm(cli_server: tuple[subprocess.Popen[str], str]) -> None:
    process, url = cli_server
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
    response = requests.post(url + EGP, json={"model": "demo", "messages": USER_TOKEN}, timeout=10)
    assert response.json()["chat_completion"]["message"]["content"]
    process.terminate()
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err


def test_cli_stops_on_ctrl_c() -> None:
    process, lines = start("-m", "nbchat.cli", "serve")
    try:
        url = lines[0].rsplit(" ", 1)[1]
        assert requests.get(url + "/v1/models", timeout=10).ok
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0 and "Traceback" not in err
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()


def test_cli_port_in_use_fails_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    from nbchat.server import serve

    with serve() as running:
        code = main(["serve", "--port", str(running.port)])
    assert code == 1
    assert "cannot listen" in capsys.readouterr().err


def test_parser_has_subcommands_and_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.api_key, args.tokens_per_second) == (
        "127.0.0.1",
        8765,
        None,
        40.0,
    )
    assert build_parser().parse_args([]).command is None  # bare `nbchat` prints help


def test_bare_nbchat_prints_help_and_version_works(capsys: pytest.CaptureFixture[str]) -> None:
    from nbchat import __version__
    from nbchat.cli import main

    assert main([]) == 0
    assert "serve" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"nbchat {__version__}"


def test_demo_greeting_does_not_claim_to_run_in_a_notebook() -> None:
    from nbchat.server.demo_model import generate

    text = generate([{"role": "user", "content": "hello"}]).text
    assert "notebook" not in text and "offline" in text


# ------------------------------------------------------------------ hardening (issue 10, 12)


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    _, err = process.communicate(timeout=10)
    return err


def test_cli_replay_enforces_the_api_key(tmp_path: Path) -> None:
    answer = {"chat_completion": {"message": {"role": "agent", "content": "recorded"}}}
    cassette = {
        "version": 1,
        "exchanges": [
            {
                "api": "egp",
                "path": EGP,
                "request": {"model": "demo", "messages": USER_TOKEN},
                "status": 200,
                "content_type": "application/json",
                "response_t": 0,
                "body": [[0, base64.b64encode(json.dumps(answer).encode()).decode()]],
            }
        ],
    }
    path = tmp_path / "lesson.json"
    path.write_text(json.dumps(cassette), "utf-8")
    process, lines = start("-m", "nbchat.cli", "serve", "--replay", str(path), "--api-key", "X")
    try:
        url = lines[0].rsplit(" ", 1)[1]
        body = {"model": "demo", "messages": USER_TOKEN}
        assert requests.post(url + EGP, json=body, timeout=10).status_code == 401
        ok = requests.post(url + EGP, json=body, headers={"x-api-key": "X"}, timeout=10)
        assert ok.json()["chat_completion"]["message"]["content"] == "recorded"
    finally:
        _stop(process)


def test_cli_rpm_limits_requests() -> None:
    process, lines = start("-m", "nbchat.cli", "serve", "--rpm", "2")
    try:
        assert any("2 requests per minute" in line for line in lines)
        url = lines[0].rsplit(" ", 1)[1]
        body = {"model": "echo", "messages": USER_TOKEN}
        statuses = [requests.post(url + EGP, json=body, timeout=10).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
    finally:
        _stop(process)


def test_cli_warns_on_stderr_for_a_public_host_without_a_key() -> None:
    process, _ = start("-m", "nbchat.cli", "serve", "--host", "0.0.0.0")
    err = _stop(process)
    assert "warning" in err and "without an API key" in err
    assert "Traceback" not in err
    keyed, _ = start("-m", "nbchat.cli", "serve", "--host", "0.0.0.0", "--api-key", "k")
    assert "warning" not in _stop(keyed)


def test_cli_rejects_a_bad_rpm_and_speed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--rpm", "0"])
    assert "positive integer" in capsys.readouterr().err
    path = tmp_path / "empty.json"
    path.write_text('{"version": 1, "exchanges": []}', "utf-8")
    assert main(["serve", "--port", "0", "--replay", str(path), "--speed", "nan"]) == 1
    assert "speed must be a finite number" in capsys.readouterr().err
