"""``keepclear`` processes that tests start the way an operator does: ``serve``, ``worker detect``, ``interop run``.

A ``ServedProcess`` is one such process: its stdout and stderr go to its log, ``start`` waits until it
is ready (its ``/v1/health`` answers, or its log says so) and quotes the log's tail when it exits or
is not ready in time; ``kill9``, ``interrupt`` (Ctrl-C) and ``stop`` (terminate, then kill) end it,
and ``start`` runs it again on the same store as often as a test likes. Used as a context manager
it is stopped when the block ends, whatever happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from keepclear.api.server import free_port

KEEPCLEAR = str(Path(sys.executable).parent / "keepclear")
#: Longest a start may take unless the test says otherwise: the probe's kernels may compile on a cold cache.
START_S = 300.0
#: How much of the log a failure message quotes.
TAIL_CHARS = 6000


def keepclear_cli(data_dir: Path, database_url: str | None = None) -> list[str]:
    """The ``keepclear`` command line up to the subcommand, on the store at ``data_dir`` (and ``database_url``)."""
    base = [KEEPCLEAR, "--data-dir", str(data_dir)]
    return base if database_url is None else [*base, "--database-url", database_url]


def cli_result(
    base: Sequence[str], *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``base`` with ``args`` to the end (at most 2 minutes), in ``env`` (None: this process's
    environment), whatever its exit: its exit code, stdout and stderr (``run_cli``: its stdout)."""
    return subprocess.run([*base, *args], capture_output=True, text=True, timeout=120, check=False, env=env)


def run_cli(base: Sequence[str], *args: str) -> str:
    """Run ``base`` with ``args`` to the end (at most 2 minutes); its stdout, stripped. Fails on a non-zero exit."""
    done = cli_result(base, *args)
    assert done.returncode == 0, (
        f"keepclear {' '.join(args)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
    )
    return done.stdout.strip()


def answers_health(process: ServedProcess) -> bool:
    """Ready when ``GET /v1/health`` at the process's URL answers 200."""
    try:
        return httpx.get(process.url + "/v1/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def log_says(text: str) -> Callable[[ServedProcess], bool]:
    """Ready when the process has written ``text`` to its log since it was started."""
    return lambda process: text in process.log_since_start()


@dataclass
class ServedProcess:
    """``command`` run with ``env`` added to this process's environment, its output appended to ``log``."""

    command: list[str]
    log: Path
    env: Mapping[str, str] = field(default_factory=dict)
    #: The port it serves HTTP on, for ``url`` (None: it serves none).
    port: int | None = None
    ready: Callable[[ServedProcess], bool] = answers_health
    #: Send stdout nowhere (a flood's worth of lines); stderr still goes to the log.
    discard_stdout: bool = False
    proc: subprocess.Popen[bytes] | None = None
    _log_offset: int = 0

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.command[-4:]} serves no port"
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_since_start(self) -> str:
        """What the process wrote since the last ``start`` (the log is kept across restarts)."""
        return self.log_text()[self._log_offset :]

    def log_tail(self, chars: int = TAIL_CHARS) -> str:
        return self.log_text()[-chars:]

    def start(self, timeout_s: float = START_S, poll_s: float = 0.1) -> ServedProcess:
        """Start the process and wait until it is ready; stopped again (and the log quoted) when it
        exits first or is not ready within ``timeout_s``."""
        assert self.proc is None or self.proc.poll() is not None, f"{self.command[-4:]} runs already"
        self._log_offset = len(self.log_text())
        with self.log.open("ab") as out:
            stdout = subprocess.DEVNULL if self.discard_stdout else out
            self.proc = subprocess.Popen(self.command, stdout=stdout, stderr=out, env={**os.environ, **self.env})
        try:
            deadline = time.monotonic() + timeout_s
            while not self.ready(self):
                code = self.proc.poll()
                assert code is None, f"{self.command[-4:]} exited with {code}:\n{self.log_tail()}"
                assert time.monotonic() < deadline, (
                    f"{self.command[-4:]} not ready within {timeout_s} s:\n{self.log_tail()}"
                )
                time.sleep(poll_s)
        except BaseException:
            self.stop()
            raise
        return self

    def kill9(self) -> None:
        """``kill -9``: no chance to flush or say goodbye."""
        assert self.proc is not None, "not started"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def interrupt(self, wait_s: float = 60.0) -> int:
        """Ctrl-C (SIGINT), as an operator stops it; its exit status (killed, and a failure, when it
        has not exited within ``wait_s``)."""
        assert self.proc is not None, "not started"
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.command[-4:]} still ran {wait_s} s after Ctrl-C:\n{self.log_tail()}") from None

    def stop(self, wait_s: float = 30.0) -> int | None:
        """Terminate the process if it runs, and kill it if it has not exited within ``wait_s``; its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> ServedProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


#: The most ``hotline_messages_per_party_per_s`` and ``hotline_message_burst`` allow (as
#: ``bench/hotline_server.py``'s): for a load that posts as fast as it can from one party, so that what
#: it checks is not the parties' post rate.
UNBOUNDED_POSTS_ENV = {
    "KEEPCLEAR_HOTLINE_MESSAGES_PER_PARTY_PER_S": "1000000",
    "KEEPCLEAR_HOTLINE_MESSAGE_BURST": "10000000",
}

#: The most ``activity_writes_per_party_per_s``, ``activity_write_burst``, the vertex bounds and the
#: body bytes allow (as ``bench/service_bench.py``'s): for a load that notifies as fast as it can from
#: one party, so that what it checks is not the parties' activity write rate.
UNBOUNDED_ACTIVITY_WRITES_ENV = {
    "KEEPCLEAR_ACTIVITY_WRITES_PER_PARTY_PER_S": "1000000",
    "KEEPCLEAR_ACTIVITY_WRITE_BURST": "10000000",
    "KEEPCLEAR_ACTIVITY_VERTICES_PER_PARTY_PER_S": "1000000000",
    "KEEPCLEAR_ACTIVITY_VERTEX_BURST": "1000000000",
    "KEEPCLEAR_BODY_BYTES_PER_PARTY_PER_S": "1000000000000",
    "KEEPCLEAR_BODY_BYTE_BURST": "1000000000000",
}


def serve(
    data_dir: Path,
    log: Path,
    *,
    database_url: str | None = None,
    port: int | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    ready: Callable[[ServedProcess], bool] = answers_health,
) -> ServedProcess:
    """``keepclear serve`` on the store at ``data_dir`` on ``port`` (default a free one) with ``args``
    and ``env``, not started yet; ready, by default, when its health answers."""
    port = free_port() if port is None else port
    command = [*keepclear_cli(data_dir, database_url), "serve", "--port", str(port), *args]
    return ServedProcess(command, log, env=dict(env or {}), port=port, ready=ready)
