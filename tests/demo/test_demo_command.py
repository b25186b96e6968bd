"""``keepclear demo`` as a real process: prints the console address and a key per party, serves, stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from keepclear.api.server import free_port


def _get(url: str, key: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_demo_prints_address_and_keys_serves_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "keepclear"),
        "demo",
        "--dir",
        str(tmp_path / "d"),
        "--speed",
        "1000",
        "--port",
        str(port),
    ]
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    seen: list[str] = []
    deadline = time.monotonic() + 900  # a first start compiles the detection kernels
    while time.monotonic() < deadline and not any("Ctrl-C stops the demo" in s for s in seen):
        try:
            seen.append(lines.get(timeout=1))
        except queue.Empty:
            assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
    text = "".join(seen)
    address = re.search(r"console: (http://127\.0\.0\.1:\d+)/", text)
    assert address is not None, text
    roles = {party: role for role, party, _ in re.findall(r"(liaison|observer) key for (\S+): (\S+)", text)}
    keys = {party: key for _, party, key in re.findall(r"(liaison|observer) key for (\S+): (\S+)", text)}
    # The UN is an observer in the founding pack: it gets an observer key, the two forces liaison keys.
    assert roles == {"coalition": "liaison", "russia": "liaison", "un": "observer"}
    # The demo says how long it runs and what to watch, with the wall time each beat comes at x1000.
    assert "at x1000: 0:14 of wall time" in text
    assert re.search(r"06:34Z\s+\+0:02\s+Close encounter west of Palmyra: REAPER 52", text), text
    try:
        assert _get(address.group(1) + "/v1/health")[0] == 200
        for party, key in keys.items():
            status, me = _get(address.group(1) + "/v1/me", key)
            assert status == 200 and me["party_id"] == party and me["role"] == roles[party]
        time.sleep(2)  # let the simulator run a little (×1000: half an hour of scenario time)
        status, tracks = _get(address.group(1) + "/v1/tracks", keys["russia"])
        assert status == 200 and "saa-17-div" in json.dumps(tracks)  # the simulator feeds the service
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get())
    out, err = "".join(seen), proc.stderr.read()  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Traceback" not in out
    assert "stopped" in out
