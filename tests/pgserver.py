"""A PostgreSQL server of a test's own, to stop and start at will (the shared one on 5432 must stay up).

Made with Debian's ``initdb`` and ``pg_ctl`` (installed with the server by ``scripts/services.sh``) in
a temporary folder of its own, listening on 127.0.0.1 on a free port, trust authentication; ``close``
stops it and removes the folder. PostgreSQL refuses to run as root, so as root the folder is given
to the ``postgres`` user and the commands run as it (a folder under pytest's ``tmp_path`` would not
do: only root may enter those).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from keepclear.api.server import free_port


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    on_path = shutil.which("pg_ctl")
    if found:
        return Path(found[-1]).parent
    if on_path:
        return Path(on_path).parent
    raise RuntimeError("no pg_ctl: PostgreSQL's server binaries are needed (scripts/services.sh installs them)")


class PostgresServer:
    """``start``/``stop`` a throwaway PostgreSQL cluster; ``url`` names its database ``test``."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="keepclear-pg-"))
        self.port = free_port()
        self.data = self.folder / "data"
        self._bin = _bin_dir()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "test")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/test"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self._bin / tool), *args]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        """Stop the server at once (``-m fast``: sessions are ended, as in a restart or a failover)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        """Stop the server if it runs, and remove its folder."""
        with contextlib.suppress(RuntimeError):  # it was not running
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
