"""The %%chat magic: streams into the cell output, keeps the conversation, --new, DataFrame."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbchat
from nbchat import magic
from nbchat.data.frames import history


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("SPELLBOOK_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("NBCHAT_BASE_URL", raising=False)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbchat")
    magic.reset(shell)
    yield shell
    magic.reset(shell)


def run(ip: Any, line: str, cell: str) -> list[Any]:
    with capture_output() as cap:
        ip.run_cell_magic("chat", line, cell)
    return list(cap.outputs)


def text_of(output: Any) -> str:
    return str(output.data.get("text/markdown", ""))


def test_load_ext_registers_magics(ip: Any) -> None:
    assert "chat" in ip.magics_manager.magics["cell"]
    assert "chat_history" in ip.magics_manager.magics["line"]
    assert nbchat.load_ipython_extension is not None


def test_streams_into_the_output(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    outputs = run(ip, f"--base-url {base} --model demo?tps=100", "What is a token?")
    assert outputs, "nothing was displayed"
    updates = [o for o in outputs if o.update]
    assert len(updates) > 1, "the output was not updated while the reply streamed"
    texts = [text_of(o) for o in updates]
    # the text grows: each update is a longer prefix of the final reply
    final = texts[-1]
    assert "token" in final.lower()
    assert len(texts[0]) < len(final)
    for t in texts[:-1]:
        assert final.startswith(t)
    # at most ~20 updates per second (plus the final one)
    assert len(updates) <= 2 + 20 * 2.5 * 3
    msgs = magic.conversation(ip)
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert msgs[1]["content"] == final
    assert msgs[1]["usage"]["completion"] > 0


def test_conversation_across_cells_and_new(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    run(ip, f"--base-url {base} --model demo", "My name is Ada. What is a token?")
    run(ip, "", "What is my name?")
    msgs = magic.conversation(ip)
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 2
    assert "Ada" in msgs[3]["content"]  # the demo model saw the first turn
    first, second = msgs[1]["usage"], msgs[3]["usage"]
    assert second["prompt"] > first["total"]  # the whole history is sent again
    # the same shape as the panel's message dicts
    from nbchat.panel.vocabulary import ChatMessage

    for m in msgs:
        assert set(m) == set(ChatMessage.__annotations__)
    df = ip.run_line_magic("chat_history", "")
    assert df.equals(history(msgs))
    assert df["turn"].tolist() == [1, 1, 2, 2]
    assert df["prompt_tokens"].tolist()[1::2] == [first["prompt"], second["prompt"]]
    u = ip.run_line_magic("chat_history", "usage")
    assert u["cumulative_total"].tolist() == [first["total"], first["total"] + second["total"]]

    outputs = run(ip, "--new", "What is my name?")
    msgs = magic.conversation(ip)
    assert len(msgs) == 2
    assert "Ada" not in msgs[1]["content"]
    assert msgs[1]["usage"]["prompt"] < first["prompt"] + 10
    assert outputs


def test_system_prompt_and_settings_stick(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    run(ip, f'--base-url {base} --model demo --system "Be brief."', "What is a token?")
    run(ip, "", "What is temperature?")
    msgs = magic.conversation(ip)
    assert all(m["params"]["system"] == "Be brief." for m in msgs)
    assert all(m["model"] == "demo" for m in msgs)
    df = history(msgs)
    assert (df["system"] == "Be brief.").all()


def test_default_is_the_demo_server(ip: Any) -> None:
    outputs = run(ip, "--model demo?tps=0", "hello")
    assert outputs
    msgs = magic.conversation(ip)
    assert msgs[-1]["status"] == "complete"
    assert msgs[-1]["api"] == "egp"
    assert "demo" in msgs[-1]["content"].lower()


def test_openai_api_against_the_demo_server(ip: Any) -> None:
    run(ip, "--api openai --model demo?tps=0", "What is a token?")
    msgs = magic.conversation(ip)
    assert msgs[-1]["api"] == "openai"
    assert msgs[-1]["status"] == "complete"
    assert msgs[-1]["usage"]["total"] > 0


def run_failing(ip: Any, line: str, cell: str, error: type[Exception]) -> list[Any]:
    """Run a cell that must fail (an API error fails the cell, after showing the reply)."""
    with capture_output() as cap, pytest.raises(error):
        ip.run_cell_magic("chat", line, cell)
    return list(cap.outputs)


def test_server_error_is_shown_and_fails_the_cell(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    outputs = run_failing(ip, f"--base-url {base} --model demo?fault=401", "hi", nbchat.APIError)
    final = text_of(outputs[-1])
    assert "Error" in final
    msg = magic.conversation(ip)[-1]
    assert msg["status"] == "error"
    assert msg["error"] and msg["error"] in final  # the server's message, verbatim


def test_partial_text_kept_on_drop(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    line = f"--base-url {base} --model demo?fault=drop&after=5"
    outputs = run_failing(ip, line, "What is a token?", nbchat.APIError)
    msg = magic.conversation(ip)[-1]
    assert msg["status"] in ("interrupted", "error")
    assert msg["content"]  # the partial text
    final = text_of(outputs[-1])
    assert final.startswith(msg["content"])
    assert "Error" in final


def test_bad_arguments(ip: Any) -> None:
    with pytest.raises(ValueError, match="--api"):
        magic.chat("--api nope", "hi", ip)
    with pytest.raises(ValueError, match="empty"):
        magic.chat("--model demo", "   ", ip)


def test_nothing_is_held_after_the_cell(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    run(ip, f"--base-url {base} --model demo", "hi")
    # another thread can run a chat cell at once: no lock outlives a cell
    done = threading.Event()

    def other() -> None:
        magic.chat(f"--base-url {base} --model demo", "again", ip)
        done.set()

    with capture_output():
        t = threading.Thread(target=other)
        t.start()
        t.join(30)
    assert done.is_set()
    assert len(magic.conversation(ip)) == 4


@pytest.mark.timeout(180)
def test_in_a_real_kernel(tmp_path: Any) -> None:
    """A tiny notebook run by nbclient: %load_ext, two %%chat cells, %chat_history."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import os\nfor k in ('SPELLBOOK_API_KEY', 'OPENAI_API_KEY'):\n"
            "    os.environ.pop(k, None)\n%load_ext nbchat"
        ),
        nbformat.v4.new_code_cell("%%chat --model demo?tps=200\nWhat is a token?"),
        nbformat.v4.new_code_cell("%%chat\nAnd what is temperature?"),
        nbformat.v4.new_code_cell(
            "df = %chat_history\nprint(df['role'].tolist(), df['prompt_tokens'].tolist())"
        ),
    ]
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={})
    updates: list[int] = []
    original = client.process_message

    def spy(msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        if msg["msg_type"] == "update_display_data":
            updates.append(cell_index)
        return original(msg, cell, cell_index)

    client.process_message = spy  # type: ignore[method-assign]
    start = time.monotonic()
    client.execute()
    assert time.monotonic() - start < 120
    out1 = nb.cells[1].outputs
    shown = [o for o in out1 if "data" in o]
    assert shown and "token" in shown[-1]["data"]["text/markdown"].lower()
    # no price for the demo model: one UnpricedModelWarning (issue 15), in the first cell only
    warned = [o for o in out1 + nb.cells[2].outputs if "UnpricedModelWarning" in o.get("text", "")]
    assert len(warned) == 1 and warned[0] in out1 and warned[0]["name"] == "stderr"
    assert "set_price('demo'" in warned[0]["text"]
    assert updates.count(1) > 1  # the reply streamed into the output
    printed = nb.cells[3].outputs[0]["text"]
    assert printed.startswith("['user', 'assistant', 'user', 'assistant']")
    assert "<NA>" in printed  # the user rows have no usage: NA, not 0


# ---- issue 11, item 10 -------------------------------------------------------------------


def run_cell(ip: Any, source: str) -> tuple[Any, Any]:
    """Run ``source`` as a notebook cell would be run (input transformers included)."""
    with capture_output() as cap:
        result = ip.run_cell(source)
    return result, cap


def test_a_cell_with_only_new_resets(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    run(ip, f"--base-url {base} --model demo", "hi")
    assert magic.conversation(ip)
    for source in ("%%chat --new", "%%chat --new\n", "%%chat --new\n\n  \n"):
        run(ip, "", "again")
        result, cap = run_cell(ip, source)
        assert result.success, (source, cap.stderr, result.error_in_exec)
        assert "empty" not in cap.stderr
        assert magic.conversation(ip) == []
        assert "New conversation" in text_of(cap.outputs[-1])
    # the settings stay: the next cell needs no --model
    run(ip, "", "hello")
    assert len(magic.conversation(ip)) == 2


def test_empty_cell_without_new_is_a_usage_error(ip: Any) -> None:
    result, cap = run_cell(ip, "%%chat --model demo")
    assert not result.success
    assert "the cell is empty" in cap.stderr and "UsageError" in cap.stderr


def test_bad_option_is_reported_once(ip: Any) -> None:
    result, cap = run_cell(ip, "%%chat --bogus\nhi")
    assert not result.success
    assert "UsageError: %%chat: unrecognized arguments: --bogus" in cap.stderr
    assert "%%chat: %%chat" not in cap.stderr
    assert "Traceback" not in cap.stderr


def test_chat_history_rejects_an_unknown_argument(ip: Any) -> None:
    with pytest.raises(ValueError, match="'bogus'"):
        magic.chat_history("bogus", ip)
    result, cap = run_cell(ip, "%chat_history bogus")
    assert not result.success
    assert "UsageError: %chat_history: unknown argument 'bogus'" in cap.stderr


def test_line_magic_sends_the_line_question_mark_included(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    run(ip, f"--base-url {base} --model demo", "hi")
    result, cap = run_cell(ip, "%chat What is a token?")
    assert result.success, (cap.stdout, cap.stderr)
    assert "not found" not in cap.stdout + cap.stderr
    msgs = magic.conversation(ip)
    assert msgs[-2]["content"] == "What is a token?"
    assert "token" in msgs[-1]["content"].lower()
    # quotes and apostrophes are text too; indented use inside a block works
    result, cap = run_cell(ip, 'if True:\n    %chat What\'s "a" token?\n')
    assert result.success, cap.stderr
    assert magic.conversation(ip)[-2]["content"] == 'What\'s "a" token?'
    # options before the message are parsed
    result, cap = run_cell(ip, "%chat --temperature 0.5 Why?")
    assert result.success, cap.stderr
    assert magic.conversation(ip)[-2]["content"] == "Why?"
    assert magic.conversation(ip)[-2]["params"]["temperature"] == 0.5


def test_api_error_fails_the_cell_after_the_partial_reply(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    source = f"%%chat --base-url {base} --model demo?fault=drop&after=5\nWhat is a token?"
    result, cap = run_cell(ip, source)
    assert not result.success
    assert isinstance(result.error_in_exec, nbchat.APIError)
    msg = magic.conversation(ip)[-1]
    assert msg["content"] and text_of(cap.outputs[-1]).startswith(msg["content"])
    # the next cell runs normally
    result, cap = run_cell(ip, "%%chat --model demo\nhi")
    assert result.success


def test_generation_parameters_from_the_params_table(ip: Any, live_server: Any) -> None:
    from nbchat.records import PARAMS

    help_text = magic._parser("%%chat", words=False).format_help()
    for name in PARAMS:
        assert "--" + name.replace("_", "-") in help_text
    base = live_server.url + "/egp/v1"
    seen: list[dict[str, Any]] = []
    original = nbchat.Client.stream

    def spy(self: Any, messages: Any, model: Any, **params: Any) -> Any:
        seen.append(params)
        return original(self, messages, model, **params)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nbchat.Client, "stream", spy)
        run(ip, f"--base-url {base} --model demo --temperature 0.3 --max-tokens 7", "hi")
        run(ip, "", "again")  # the options stick
        run(ip, "--temperature ''", "and again")  # an empty value unsets
    assert seen[0] == {"temperature": 0.3, "max_tokens": 7}
    assert seen[1] == seen[0]
    assert seen[2] == {"max_tokens": 7}
    msgs = magic.conversation(ip)
    assert msgs[0]["params"]["temperature"] == 0.3 and msgs[1]["params"]["max_tokens"] == 7
    assert history(msgs)["max_tokens"].tolist()[:2] == [7, 7]
    with pytest.raises(ValueError, match="temperature"):
        magic.chat("--temperature hot", "hi", ip)
    with pytest.raises(ValueError, match="max_tokens"):
        magic.chat("--max-tokens 0", "hi", ip)


def test_output_stores_the_reply(ip: Any, live_server: Any) -> None:
    base = live_server.url + "/egp/v1"
    run(ip, f"--base-url {base} --model demo -o answer", "What is a token?")
    reply = ip.user_ns["answer"]
    assert isinstance(reply, nbchat.Reply)
    assert reply.content == magic.conversation(ip)[-1]["content"]
    run(ip, "", "again")  # -o does not stick
    assert ip.user_ns["answer"] is reply
    with pytest.raises(ValueError, match="variable name"):
        magic.chat("-o 1x", "hi", ip)


def test_stop_button_keeps_the_partial_text(ip: Any, live_server: Any) -> None:
    """KeyboardInterrupt (the notebook's stop button) inside the cell: stopped, text kept."""
    base = live_server.url + "/egp/v1"

    class Interrupting(magic._CellSink):
        def delta(self, request_id: str, seq: int, text: str) -> None:
            super().delta(request_id, seq, text)
            raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(magic, "_CellSink", Interrupting)
        outputs = run(ip, f"--base-url {base} --model demo?tps=50", "What is a token?")
    msg = magic.conversation(ip)[-1]
    assert msg["status"] == "stopped"
    assert msg["content"]
    assert "stopped" in text_of(outputs[-1])


# ---- issue 15: %%chat --raw ---------------------------------------------------------------


def test_raw_prints_what_went_over_the_wire(
    ip: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "sk-canary-magic-raw-41c2"
    monkeypatch.setenv("SPELLBOOK_API_KEY", canary)
    nbchat.set_price("demo", input=1.0, output=1.0)
    base = live_server.url + "/egp/v1"
    try:
        with capture_output() as first:
            ip.run_cell_magic("chat", f"--base-url {base} --model demo --raw", "What is a token?")
        with capture_output() as second:
            ip.run_cell_magic("chat", "--raw", "And why does the prompt grow?")
        with capture_output() as third:
            ip.run_cell_magic("chat", "", "Thanks")  # --raw is for one cell, not sticky
    finally:
        from nbchat.data import prices

        prices.reset()
    for cap in (first, second):
        assert "request body:" in cap.stdout and "events:" in cap.stdout
        assert "x-api-key: ***" in cap.stdout and "$SPELLBOOK_API_KEY" in cap.stdout
        assert canary not in cap.stdout
    assert "What is a token?" in second.stdout  # the whole history is re-sent
    assert second.stdout.count('"role": "user"') == 2
    assert "request body:" not in third.stdout
