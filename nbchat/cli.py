"""Command line interface: ``nbchat serve`` starts the embedded chat server.

Subcommands are registered in `build_parser`; each one has a handler taking the
parsed arguments and returning an exit code.

Examples
--------
.. code-block:: console

    $ nbchat serve --port 8765 --tokens-per-second 40
    nbchat demo server running at http://127.0.0.1:8765
      EGP:    http://127.0.0.1:8765/egp/v1/chat-completions
      OpenAI: http://127.0.0.1:8765/v1/chat/completions  (base_url http://127.0.0.1:8765/v1)
    Press Ctrl+C to stop.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from types import FrameType

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the ``nbchat`` argument parser with its subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The parser; ``args.handler(args)`` runs the chosen subcommand.
    """
    from nbchat._version import __version__

    parser = argparse.ArgumentParser(prog="nbchat", description="Chat with LLMs in Jupyter.")
    parser.add_argument("--version", action="version", version=f"nbchat {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the offline demo chat server (EGP and OpenAI-compatible)",
        description="Run the embedded chat-completions server until Ctrl+C.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface (default %(default)s)")
    serve.add_argument("--port", type=int, default=8765, help="port, 0 = any free (%(default)s)")
    serve.add_argument("--api-key", default=None, help="require this key (default: any key)")
    serve.add_argument(
        "--tokens-per-second",
        type=float,
        default=40.0,
        help="streaming speed, 0 = no delay (default %(default)s)",
    )
    serve.add_argument(
        "--replay", metavar="FILE", default=None, help="replay this recorded session (cassette)"
    )
    serve.add_argument(
        "--speed", type=float, default=1.0, help="replay speed, 0 = no delay (default %(default)s)"
    )
    serve.add_argument(
        "--rpm",
        type=_positive_int,
        default=None,
        help="accept at most N chat requests per minute, then 429 with Retry-After",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer to this Host name (repeatable; default: loopback names and --host)",
    )
    serve.set_defaults(handler=run_serve)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def run_serve(args: argparse.Namespace) -> int:
    """Run the server until Ctrl+C or SIGTERM.

    Parameters
    ----------
    args : argparse.Namespace
        ``host``, ``port``, ``api_key``, ``tokens_per_second``, ``replay``, ``speed``,
        ``rpm`` and ``allow_host``. A warning of `serve` (e.g. a non-loopback host without
        an API key) is printed to stderr.

    Returns
    -------
    int
        0 after a clean shutdown, 1 if the server could not start.
    """
    from nbchat.server import serve

    replay = getattr(args, "replay", None)
    speed = getattr(args, "speed", 1.0)
    if replay is not None:
        from nbchat.recording import load_cassette

        try:
            replay = load_cassette(replay)
        except (OSError, ValueError) as exc:
            print(f"nbchat: cannot replay {args.replay}: {exc}", file=sys.stderr)
            return 1
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            server = serve(
                args.host,
                args.port,
                args.api_key,
                args.tokens_per_second,
                replay=replay,
                speed=speed,
                rpm=getattr(args, "rpm", None),
                allowed_hosts=getattr(args, "allow_host", None) or (),
            )
    except OSError as exc:
        print(f"nbchat: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # ConfigError: a bad --speed
        print(f"nbchat: {exc}", file=sys.stderr)
        return 1
    for warning in caught:
        print(f"nbchat: warning: {warning.message}", file=sys.stderr, flush=True)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    kind = f"replay server ({args.replay}, speed {speed:g})" if replay else "demo server"
    print(f"nbchat {kind} running at {server.url}")
    print(f"  EGP:    {server.egp_url}")
    print(f"  OpenAI: {server.openai_url}  (base_url {server.url}/v1)")
    if args.api_key:
        print("  API key required.")
    if getattr(args, "rpm", None):
        print(f"  Rate limit: {args.rpm} requests per minute.")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    print("nbchat demo server stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nbchat`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `nbchat`: say what it can do
        parser.print_help()
        return 0
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
