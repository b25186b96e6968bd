"""A real TAK server for the interop tests: OpenTAKServer from PyPI, in its own virtual environment
(scripts/install-ots.sh makes it), on a PostgreSQL database of its own (PostGIS) and the machine's
RabbitMQ. Its three processes (the web app, which migrates the database; the CoT parser, which
routes; the TCP streaming handler, which TAK clients connect to) start on free ports and stop with
the test; its database is dropped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg

from keepclear.api.server import free_port

ROOT = Path(__file__).resolve().parents[2]
#: The virtual environment scripts/install-ots.sh makes (KEEPCLEAR_OTS_VENV to name another).
OTS_VENV = Path(os.environ.get("KEEPCLEAR_OTS_VENV", ROOT / ".venv-ots"))
POSTGRES = os.environ.get("KEEPCLEAR_OTS_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
RABBITMQ_PORT = 5672


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def missing() -> str | None:
    """Why OpenTAKServer cannot run here, or None."""
    if not (OTS_VENV / "bin" / "eud_handler").exists():
        return f"OpenTAKServer is not installed in {OTS_VENV} (scripts/install-ots.sh installs it)"
    if not _answers(RABBITMQ_PORT):
        return "no RabbitMQ on 127.0.0.1:5672 (scripts/services.sh starts it)"
    try:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            found = conn.execute("select 1 from pg_available_extensions where name = 'postgis'").fetchone()
    except psycopg.Error as exc:
        return f"no PostgreSQL at {POSTGRES}: {exc}"
    return None if found else "PostgreSQL has no PostGIS (scripts/services.sh installs it)"


@dataclass
class TakServer:
    """A running OpenTAKServer: TAK clients connect to ``tcp_port`` (CoT XML streaming, its 8088)."""

    tcp_port: int
    data: Path
    #: RabbitMQ queues the server makes per client uid and callsign, deleted when it stops (they outlive it).
    queues: list[str] = field(default_factory=list)

    def logs(self) -> str:
        out = []
        for log in sorted((self.data / "logs").glob("*.log")):
            out.append(f"== {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(out)


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _answers(port):
            return
        if process.poll() is not None:
            raise AssertionError(f"OpenTAKServer's {what} ended ({process.returncode}) before it answered")
        time.sleep(0.5)
    raise AssertionError(f"OpenTAKServer's {what} did not answer on {port} within {timeout_s:.0f} s")


def _delete_queues(names: list[str]) -> None:
    """Through pika, which OpenTAKServer's environment holds."""
    script = (
        "import pika, sys\n"
        "connection = pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1'))\n"
        "channel = connection.channel()\n"
        "for name in sys.argv[1:]:\n"
        "    channel.queue_delete(queue=name)\n"
        "connection.close()\n"
    )
    subprocess.run([str(OTS_VENV / "bin" / "python"), "-c", script, *names], check=True, timeout=60)


@contextmanager
def opentakserver(data: Path) -> Iterator[TakServer]:
    """Start OpenTAKServer on a fresh database in ``data``; stop it and drop its database after."""
    database = f"ots_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f'create database "{database}"')
    with psycopg.connect(f"{POSTGRES}/{database}", autocommit=True) as conn:
        conn.execute("create extension postgis")
    data.mkdir(parents=True, exist_ok=True)
    # What would reach the network is off (plugins, video, Meshtastic); the icon download fails at once
    # through a proxy that answers nothing, and the server goes on without icons.
    (data / "config.yml").write_text(
        "OTS_ENABLE_PLUGINS: false\nOTS_MEDIAMTX_ENABLE: false\nOTS_ENABLE_MESHTASTIC: false\n"
    )
    web_port, tcp_port = free_port(), free_port()
    env = {
        **os.environ,
        "OTS_DATA_FOLDER": str(data),
        "SQLALCHEMY_DATABASE_URI": f"{POSTGRES.replace('postgresql://', 'postgresql+psycopg://')}/{database}",
        "OTS_MEDIAMTX_ENABLE": "False",
        "OTS_LISTENER_ADDRESS": "127.0.0.1",
        "OTS_LISTENER_PORT": str(web_port),
        "OTS_TCP_STREAMING_PORT": str(tcp_port),
        "OTS_SSL_STREAMING_PORT": str(free_port()),
        "OTS_UDP_PORT": str(free_port()),
        "OTS_MARTI_HTTP_PORT": str(free_port()),
        "OTS_MARTI_HTTPS_PORT": str(free_port()),
        "OTS_STREAMING_INTERFACE": "127.0.0.1",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    processes: list[subprocess.Popen[bytes]] = []
    outputs: list[IO[bytes]] = []
    server: TakServer | None = None

    def start(command: str) -> subprocess.Popen[bytes]:
        log = (data / f"{command}.out").open("wb")
        outputs.append(log)
        process = subprocess.Popen(
            [str(OTS_VENV / "bin" / command)], env=env, cwd=data, stdout=log, stderr=log, start_new_session=True
        )  # a group of its own: the streaming handler forks a process per client
        processes.append(process)
        return process

    try:
        web = start("opentakserver")  # migrates the database, makes its CA and default groups, then serves
        _wait_port(web_port, web, "web app", 240.0)
        start("cot_parser")
        _wait_port(tcp_port, start("eud_handler"), "TCP streaming handler", 120.0)
        time.sleep(2.0)  # the CoT parser's RabbitMQ consumer
        server = TakServer(tcp_port, data)
        yield server
    finally:
        for process in reversed(processes):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)
        for output in outputs:
            output.close()
        if server is not None and server.queues:
            _delete_queues(server.queues)
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'drop database if exists "{database}" with (force)')
        shutil.rmtree(data / "ca", ignore_errors=True)
