"""Embedded local chat-completions server (EGP and OpenAI-compatible), offline and deterministic.

Start it from a script or from inside a running Jupyter kernel; uvicorn runs in its
own thread with its own event loop:

>>> from nbchat.server import serve
>>> with serve(tokens_per_second=0) as server:  # doctest: +SKIP
...     print(server.url + "/egp/v1/chat-completions")

Per-request options and fault modes are described in `nbchat.server.faults`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import warnings
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

import uvicorn

from nbchat.server.app import EGP_PATH, OPENAI_PATH, create_app, request_stats
from nbchat.server.guard import is_loopback
from nbchat.server.protocol import HEAD_TIMEOUT_S, with_head_timeout

__all__ = ["EGP_PATH", "OPENAI_PATH", "Server", "ServerThread", "create_app", "serve"]

ASGIApp = Any


class ServerThread:
    """Run any ASGI app with uvicorn in a background thread with its own event loop.

    The constructor returns once the port accepts connections.

    Parameters
    ----------
    app : ASGI application
        The app to serve.
    host : str
        Interface to bind (default loopback).
    port : int
        Port to bind; ``0`` picks a free port (see `port`).
    startup_timeout : float
        Seconds to wait for uvicorn to start.
    request_timeout : float
        Seconds a client has to send a complete request head (see
        `nbchat.server.protocol`); ``timeout_keep_alive`` (5 s) closes idle connections.

    Raises
    ------
    RuntimeError
        If uvicorn does not start in time.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        request_timeout: float = HEAD_TIMEOUT_S,
    ) -> None:
        protocol = with_head_timeout(request_timeout)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        self.host: str = host
        self.port: int = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            http=protocol,
            timeout_keep_alive=5,
        )
        self._server = _Uvicorn(config)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"nbchat-server-{self.port}")
        self._thread.daemon = True
        self._thread.start()
        self._wait_started(startup_timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # reported by _wait_started
            self._error = exc
        finally:
            loop.close()
            self._socket.close()

    def _wait_started(self, timeout: float) -> None:
        deadline = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if self._server.started or not self._thread.is_alive():
                break
            deadline.wait(0.01)
        if not self._server.started:
            self.stop()
            raise RuntimeError(f"uvicorn did not start on {self.url}: {self._error!r}")

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8765``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down and return once its thread has finished.

        Parameters
        ----------
        timeout : float
            Seconds to wait for the thread.
        """
        self._server.should_exit = True
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.url} {state}>"


class _Uvicorn(uvicorn.Server):
    """uvicorn, but a stop also closes connections whose streams outlived the grace period.

    uvicorn cancels such tasks and leaves their sockets open, so a client would wait for its
    read timeout; closing the transport ends the client's stream at once (as a cut body).
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()


class Server(ServerThread):
    """The embedded chat server running in a background thread (see `serve`).

    Attributes
    ----------
    requests : list of dict
        One ``{"path", "api", "model", "stream", "fault", "digest"}`` entry per chat request
        that passed the server's checks (Host, key, content type, ``rpm``); ``digest``
        identifies the conversation (`nbchat.server.app.messages_digest`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        tokens_per_second: float = 40.0,
        *,
        replay: Any = None,
        speed: float = 1.0,
        rpm: int | None = None,
        allowed_hosts: Iterable[str] = (),
        request_timeout: float = HEAD_TIMEOUT_S,
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        extra = tuple(allowed_hosts)
        app: ASGIApp
        if replay is not None:
            from nbchat.server.replay import create_replay_app

            app = create_replay_app(
                replay,
                speed,
                log=self.requests,
                api_key=api_key,
                host=host,
                allowed_hosts=extra,
                rpm=rpm,
                request_timeout=request_timeout,
            )
        else:
            app = create_app(
                api_key,
                tokens_per_second,
                self.requests,
                host=host,
                allowed_hosts=extra,
                rpm=rpm,
                request_timeout=request_timeout,
            )
        self._limiter = app.state.limiter
        self._refused = app.state.refused
        if api_key is None and not is_loopback(host):
            warnings.warn(
                f"nbchat server bound to {host}, reachable from other machines, without an "
                "API key: anyone who can reach this port can use it. Pass api_key=... "
                "(nbchat serve --api-key) or bind to 127.0.0.1.",
                UserWarning,
                stacklevel=3,
            )
        super().__init__(app, host, port, request_timeout=request_timeout)

    def stats(self) -> dict[str, Any]:
        """Request counts: ``requests``, ``by_model``, ``faults``, ``rate_limited``, ``refused``,
        ``repeated``.

        The same as ``GET /stats``; see `nbchat.server.app.request_stats`. ``repeated`` is
        empty unless some conversation was answered (without a fault) more than once.
        """
        limited = 0 if self._limiter is None else self._limiter.refused
        return request_stats(self.requests, limited, self._refused)

    @property
    def egp_url(self) -> str:
        """The EGP endpoint URL."""
        return self.url + EGP_PATH

    @property
    def openai_url(self) -> str:
        """The OpenAI chat-completions endpoint URL."""
        return self.url + OPENAI_PATH


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    tokens_per_second: float = 40.0,
    *,
    replay: Any = None,
    speed: float = 1.0,
    rpm: int | None = None,
    allowed_hosts: Iterable[str] = (),
    request_timeout: float = HEAD_TIMEOUT_S,
) -> Server:
    """Start the embedded server in a background thread.

    Safe to call inside a running Jupyter kernel: uvicorn gets its own thread and
    event loop. Returns once the port accepts connections.

    Parameters
    ----------
    host : str
        Interface to bind (default loopback only). Any other interface without `api_key`
        gives a `UserWarning`. Requests must name this host, a loopback name
        (``127.0.0.1``, ``localhost``, ``[::1]``) or one of `allowed_hosts` in their
        ``Host`` header (else 421); see `nbchat.server.guard`.
    port : int
        Port; ``0`` picks a free one (read it from ``Server.port`` or ``Server.url``).
    api_key : str, optional
        Require this key (also when replaying); by default any key or none is accepted.
    tokens_per_second : float
        Streaming speed; ``0`` means no delay.
    replay : path or dict, optional
        Serve this cassette (recorded with `nbchat.recording.Recorder`) instead of the demo
        model: see `nbchat.server.replay`.
    speed : float
        Replay speed: recorded times are divided by it; ``0`` means no delay.
    rpm : int, optional
        Accept at most this many chat requests in any 60 s; the others get 429 with
        ``Retry-After`` (for testing rate-limited clients).
    allowed_hosts : iterable of str
        More host names to answer to (e.g. a reverse proxy's).
    request_timeout : float
        Seconds a client has to send a request head, and then its body.

    Returns
    -------
    Server
        The running server; call ``stop()`` or use it as a context manager.

    Warns
    -----
    UserWarning
        When bound to a non-loopback interface without `api_key`.
    """
    return Server(
        host,
        port,
        api_key,
        tokens_per_second,
        replay=replay,
        speed=speed,
        rpm=rpm,
        allowed_hosts=allowed_hosts,
        request_timeout=request_timeout,
    )
