"""Running the app under uvicorn: in the foreground (``keepclear serve``) or on a thread (tests, demo)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import threading
import time
from collections.abc import Generator
from typing import Any

import uvicorn
import uvicorn.config
from fastapi import FastAPI


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with the one line a deliberately cut stream causes left out
    (``streams.CutStreamLogFilter``)."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config.setdefault("filters", {})["stream_cut"] = {"()": "keepclear.api.streams.CutStreamLogFilter"}
    config["loggers"]["uvicorn.error"]["filters"] = ["stream_cut"]
    return config


def uvicorn_config(app: FastAPI, host: str, port: int, *, access_log: bool = False) -> uvicorn.Config:
    """The uvicorn configuration keepclear runs with."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=_log_config(),
        access_log=access_log,
        ws="websockets-sansio",
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
    """A real uvicorn server on a background thread; ``with`` starts it and waits until it listens."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._app = app
        self._server = Server(uvicorn_config(app, self.host, self.port))
        self._thread = threading.Thread(target=self._server.run, name="keepclear-server", daemon=True)

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:43121."""
        return f"http://{self.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop serving requests, once started (tests count the tasks left on it)."""
        return self._server.servers[0].get_loop() if self._server.servers else None

    def start(self, timeout_s: float = 20.0) -> None:
        """Start and wait for the server to accept connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Ask the server to finish and wait for it."""
        hub = getattr(self._app.state, "hub", None)
        if hub is not None:
            hub.close_all()
        self._server.should_exit = True
        self._thread.join(timeout=20)

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
