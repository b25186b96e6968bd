"""Starting the service: a taken port is told at once and by name; a first start on an empty compile
cache succeeds, saying why it takes time, and never blames the port."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from keepclear.api.server import SLOW_START_NOTICE, PortInUseError, ThreadedServer, bind_listener
from serving import KEEPCLEAR, keepclear_cli, serve


def _occupied_port() -> socket.socket:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    return holder


def test_bind_listener_names_a_taken_port() -> None:
    with _occupied_port() as holder:
        port = holder.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is in use"):
            bind_listener("127.0.0.1", port)


@pytest.mark.parametrize("command", [["serve"], ["demo", "--speed", "1000"]])
def test_a_taken_port_is_told_at_once_without_a_traceback(tmp_path: Path, command: list[str]) -> None:
    with _occupied_port() as holder:
        port = holder.getsockname()[1]
        extra = ["--dir", str(tmp_path / "demo")] if command[0] == "demo" else []
        done = subprocess.run(
            [KEEPCLEAR, "--data-dir", str(tmp_path / "data"), *command, *extra, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stderr
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "demo").exists() or not any((tmp_path / "demo").iterdir())


def test_threaded_server_binds_its_port_when_made() -> None:
    from fastapi import FastAPI

    server = ThreadedServer(FastAPI())
    try:
        with pytest.raises(PortInUseError):
            bind_listener("127.0.0.1", server.port)
    finally:
        server.stop()
    bind_listener("127.0.0.1", server.port).close()  # released by stop()


def test_first_start_on_an_empty_compile_cache_succeeds_and_says_why_it_is_slow(tmp_path: Path) -> None:
    """The README's first run on a fresh machine: nothing compiled yet. The start takes as long as
    the compiler needs; the server then answers, and the port is never blamed."""
    cache = {"NUMBA_CACHE_DIR": str(tmp_path / "empty-cache")}
    init = [*keepclear_cli(tmp_path / "data"), "init"]
    subprocess.run(init, check=True, capture_output=True, env={**os.environ, **cache}, timeout=300)
    holder = _occupied_port()
    port = holder.getsockname()[1]
    holder.close()
    server = serve(tmp_path / "data", tmp_path / "serve.log", port=port, env=cache)
    with server.start(900, poll_s=0.5):
        for _ in range(100):  # the watcher prints "ready" right after the server starts
            if "ready:" in server.log_text():
                break
            time.sleep(0.05)
        returncode = server.stop(wait_s=60)
    text = server.log_text()
    assert SLOW_START_NOTICE in text
    assert f"ready: http://127.0.0.1:{port}/" in text
    assert "in use" not in text
    assert returncode == 0, text
    assert any((tmp_path / "empty-cache").rglob("*.nbi")), "the kernels were compiled into the given cache"
