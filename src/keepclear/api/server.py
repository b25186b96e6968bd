"""Running the app under uvicorn: in the foreground (``keepclear serve``) or on a thread (tests, demo)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import socket
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import uvicorn
import uvicorn.config
from fastapi import FastAPI

from keepclear.api.connection_guard import ConnectionGuard
from keepclear.errors import KeepclearError

#: How long a server may take to start: the first start on a machine compiles the detection kernels
#: (numba, cached on disk afterwards), which takes minutes on a small, busy machine.
START_TIMEOUT_S = 900.0
#: After this long without being ready, the person waiting is told why the start takes time.
SLOW_START_NOTICE_S = 3.0
SLOW_START_NOTICE = (
    "still starting: a first run compiles keepclear's detection kernels once (up to a few minutes on a "
    "small machine); later starts take seconds"
)


class PortInUseError(KeepclearError):
    """The address to listen on is taken by another program."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def bind_listener(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A socket bound to ``host:port`` and listening, made before anything slow starts, so that a
    taken port is told at once and by name and nothing else is ever blamed on the port.

    ``reuse_port``: other processes that ask the same may listen on the same address (SO_REUSEPORT;
    the kernel spreads new connections over them); a program that did not ask still finds it taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"port {port} on {host} is in use by another program; choose another with --port"
            ) from None
        raise KeepclearError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def watch_start(
    server: uvicorn.Server,
    *,
    is_running: Callable[[], bool],
    timeout_s: float,
    on_slow: Callable[[], None] | None = None,
    slow_after_s: float = SLOW_START_NOTICE_S,
) -> None:
    """Wait until ``server`` has started; tell ``on_slow`` once if that takes longer than
    ``slow_after_s``. Raises ``KeepclearError`` if the server stops or ``timeout_s`` passes first."""
    begun = time.monotonic()
    told = on_slow is None
    while not server.started:
        waited_s = time.monotonic() - begun
        if not is_running():
            raise KeepclearError("the service stopped while starting (see the messages above)")
        if waited_s > timeout_s:
            raise KeepclearError(f"the service did not finish starting within {timeout_s:.0f} s")
        if not told and waited_s > slow_after_s:
            told = True
            assert on_slow is not None
            on_slow()
        time.sleep(0.02)


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with the one line a deliberately cut stream causes left out
    (``stream_response.CutStreamLogFilter``)."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config.setdefault("filters", {})["stream_cut"] = {"()": "keepclear.api.stream_response.CutStreamLogFilter"}
    config["loggers"]["uvicorn.error"]["filters"] = ["stream_cut"]
    return config


#: The largest WebSocket message uvicorn takes when the app names no ``max_body_bytes`` (its own default).
_WS_MAX_BYTES = 16 * 1024 * 1024


def uvicorn_config(app: FastAPI, host: str, port: int, *, access_log: bool = False) -> uvicorn.Config:
    """The uvicorn configuration keepclear runs with. A WebSocket message (a hotline frame: one post,
    a receipt, a resume) is bounded as one object's body is (``max_body_bytes``): a larger one closes
    the socket (1009) before it is held whole or parsed. The app's ``ConnectionGuard`` (``create_app``
    makes one) bounds the open connections, how long a request's headers may take and the pongs a
    socket leaves unread.

    No per-message deflate on the sockets, though clients (browsers, websockets) offer it: each
    socket compressed every frame it was sent on the event loop, with its own compressor (200
    consoles of one party, another party posting 16 KiB bodies at its rate: 23 s of zlib in 20 s, and
    another party's alerts reached its stream 4 to 13 s late); and one party's text compressed in
    the same stream as what others say to the reader lets an observer of the TLS lengths learn what
    it guesses (CRIME, BREACH)."""
    settings = getattr(app.state, "settings", None)
    guard: ConnectionGuard | None = getattr(app.state, "connection_guard", None)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=_log_config(),
        access_log=access_log,
        http="auto" if guard is None else guard.protocol(),
        ws="websockets-sansio" if guard is None else guard.ws_protocol(),
        ws_max_size=getattr(settings, "max_body_bytes", _WS_MAX_BYTES),
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,
    )


class Server(uvicorn.Server):
    """uvicorn, stopping promptly with clients that do not read.

    On shutdown every live stream is ended at once (``StreamHub.close_all``; hotline sockets are
    closed by uvicorn itself), then uvicorn waits for connections to finish as usual, except that a
    connection whose client has not taken what was already written is aborted after
    ``unread_grace_s`` instead of being waited for up to ``timeout_graceful_shutdown``: a client
    that does not read must not hold up a stop, nor have its handler cancelled with a traceback.
    """

    unread_grace_s = 0.5

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        hub = getattr(getattr(app, "state", None), "hub", None)
        if hub is not None:
            hub.close_all()
        aborter = asyncio.create_task(self._abort_unread())
        try:
            await super().shutdown(sockets)
        finally:
            aborter.cancel()

    async def _abort_unread(self) -> None:
        await asyncio.sleep(self.unread_grace_s)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None and transport.get_write_buffer_size() > 0:
                transport.abort()


class ForegroundServer(Server):
    """uvicorn in the foreground (``keepclear serve``): a Ctrl-C or SIGTERM that stops it cleanly ends
    the process with status 0; only a second Ctrl-C (a forced stop) is passed on as an interrupt.

    uvicorn re-raises the signal it stopped on once it is done; for a clean stop there is nothing
    left to interrupt, and a clean stop reported as "aborted" (status 130) would read as a failure.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        with super().capture_signals():
            yield
            if not self.force_exit:
                self._captured_signals.clear()


class ThreadedServer:
    """A real uvicorn server on a background thread; ``with`` starts it and waits until it serves.

    The port is bound when the object is made (``port`` None or 0: any free port) unless a bound
    ``listener`` is given, so a taken port raises ``PortInUseError`` at once and the chosen port cannot
    be taken by someone else meanwhile.
    """

    def __init__(
        self, app: FastAPI, host: str = "127.0.0.1", port: int | None = None, *, listener: socket.socket | None = None
    ) -> None:
        self.host = host
        self._socket = listener or bind_listener(host, port or 0)
        self.port = int(self._socket.getsockname()[1])
        self._app = app
        self._server = Server(uvicorn_config(app, self.host, self.port))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="keepclear-server", daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:43121."""
        return f"http://{self.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop serving requests, once started (tests count the tasks left on it)."""
        return self._server.servers[0].get_loop() if self._server.servers else None

    def start(self, timeout_s: float = START_TIMEOUT_S, on_slow: Callable[[], None] | None = None) -> None:
        """Start and wait until the server serves (its start-up, kernel compilation included, done);
        ``on_slow`` is told once if that takes more than a few seconds."""
        self._thread.start()
        watch_start(self._server, is_running=self._thread.is_alive, timeout_s=timeout_s, on_slow=on_slow)

    def stop(self) -> None:
        """Ask the server to finish and wait for it."""
        hub = getattr(self._app.state, "hub", None)
        if hub is not None:
            hub.close_all()
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=20)
        self._socket.close()

    def __enter__(self) -> ThreadedServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
