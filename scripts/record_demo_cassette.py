"""Record notebooks/cassettes/demo-session.json: a 3-turn chat with the embedded demo server.

The server streams at its default 40 tokens per second, so the cassette holds realistic timing.
Run from the repository root::

    .venv/bin/python scripts/record_demo_cassette.py [OUTPUT]

``notebooks/replay.ipynb`` replays the cassette with ``nbchat.serve(replay=..., speed=4)``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbchat
from nbchat.recording import Recorder
from nbchat.server import serve

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "notebooks" / "cassettes" / "demo-session.json"
QUESTIONS = [
    "What is a token?",
    "How does streaming work?",
    "What does temperature do?",
]


def record(output: Path) -> list[nbchat.Reply]:
    """Hold the conversation against a fresh demo server, recording every exchange."""
    replies: list[nbchat.Reply] = []
    history: list[dict[str, str]] = []
    with serve() as server, Recorder(output) as recorder:  # default tokens_per_second=40
        client = nbchat.Client(base_url=server.url + "/egp/v1", recorder=recorder)
        for question in QUESTIONS:
            history.append({"role": "user", "content": question})
            stream = client.stream(history, "demo")
            with stream:
                for _ in stream:
                    pass
            reply = stream.reply
            assert reply is not None and reply.status == "complete", reply
            history.append(reply.to_message())
            replies.append(reply)
        client.close()
    return replies


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    for reply in record(output):
        print(
            f"{len(reply.content):4d} chars  usage={reply.usage}  "
            f"ttft={reply.ttft:.3f}s  latency={reply.latency:.2f}s"
        )
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
