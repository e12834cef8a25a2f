"""A real HTTP server on 127.0.0.1 that answers with exactly the bytes a test scripts.

The chat-level vectors fix the framing byte for byte (chunked, Content-Length, a cut
without the zero-length chunk, close-delimited), which an ASGI server cannot be told to
produce, so this one writes the response itself over a plain socket.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Script:
    status: int = 200
    content_type: str = "text/event-stream"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    framing: str = "chunked"  # "chunked" | "content-length" | "close"
    truncate_after: int | None = None
    piece: int = 0  # write the body in pieces of this size (0 = one piece)
    delay: float = 0.0  # seconds between pieces


_REASONS = {
    200: "OK",
    401: "Unauthorized",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class ScriptedServer:
    def __init__(self) -> None:
        self.scripts: list[Script] = []
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                outer._handle(self)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def push(self, script: Script) -> None:
        self.scripts.append(script)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, h: socketserver.StreamRequestHandler) -> None:
        # OSError: the client hung up early (after [DONE], an error, or a cancel).
        with contextlib.suppress(OSError):
            self._respond(h)

    def _respond(self, h: socketserver.StreamRequestHandler) -> None:
        line = h.rfile.readline().decode("latin-1").strip()
        if not line:
            return
        method, path, _ = line.split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            hl = h.rfile.readline().decode("latin-1")
            if hl in ("\r\n", "\n", ""):
                break
            k, _, v = hl.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = h.rfile.read(int(headers.get("content-length", "0") or 0))
        self.requests.append(
            {
                "method": method,
                "path": path,
                "headers": headers,
                "json": json.loads(body or b"null"),
            }
        )
        s = self.scripts.pop(0) if self.scripts else Script(status=500, body=b"no script")
        out = h.wfile
        status = f"HTTP/1.1 {s.status} {_REASONS.get(s.status, 'Status')}\r\n"
        hdrs = [f"Content-Type: {s.content_type}"]
        hdrs += [f"{k}: {v}" for k, v in s.headers.items()]
        if s.framing == "chunked":
            hdrs.append("Transfer-Encoding: chunked")
        elif s.framing == "content-length":
            hdrs.append(f"Content-Length: {len(s.body)}")
        hdrs.append("Connection: close")
        out.write((status + "\r\n".join(hdrs) + "\r\n\r\n").encode("latin-1"))
        out.flush()
        data = s.body if s.truncate_after is None else s.body[: s.truncate_after]
        size = s.piece or max(len(data), 1)
        for i in range(0, len(data), size):
            part = data[i : i + size]
            if s.framing == "chunked":
                out.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            else:
                out.write(part)
            out.flush()
            if s.delay:
                time.sleep(s.delay)
        if s.framing == "chunked" and s.truncate_after is None:
            out.write(b"0\r\n\r\n")
        out.flush()
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)
