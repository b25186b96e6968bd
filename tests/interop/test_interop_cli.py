"""`keepclear interop run` as an operator starts it: a mapping file, a URL, a feed key, a listener."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from apisupport import Service
from interopsupport import tracks, wait_for

from keepclear.api.server import free_port
from keepclear.interop.cot import event_xml
from serving import KEEPCLEAR, ServedProcess, log_says


def test_run_posts_cot_from_a_udp_listener_and_stops_cleanly(service: Service, tmp_path: Path) -> None:
    (tmp_path / "interop.yaml").write_text("party: a\ncot:\n  ANDROID-A1: ua\n")
    port = free_port()
    command = [
        KEEPCLEAR, "interop", "run", "--mapping", str(tmp_path / "interop.yaml"), "--url", service.url,
        "--listen", f"cot:udp:{port}",
    ]  # fmt: skip
    env_key = {"KEEPCLEAR_FEED_KEY": service.keys["a-feed"]}
    adapter = ServedProcess(command, tmp_path / "interop.log", env=env_key, ready=log_says("ready:"))
    with adapter.start():
        now_s = time.time()
        event = event_xml(
            uid="ANDROID-A1", cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=36.5, lon_deg=3.0
        )

        def sent_and_seen() -> dict[str, object] | None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.sendto(event, ("127.0.0.1", port))
            return tracks(service, "a-liaison").get("ua")

        assert wait_for(sent_and_seen, what="ua")["lat_deg"] == 36.5
        returncode = adapter.interrupt()
    rest = adapter.log_text()
    assert returncode == 0, rest
    assert "interop stopped:" in rest and "accepted=" in rest


def test_a_bad_mapping_file_is_told_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "interop.yaml").write_text("party: a\nicao:\n  XYZ: ua\n")
    done = subprocess.run(
        [KEEPCLEAR, "interop", "run", "--mapping", str(tmp_path / "interop.yaml"), "--url", "http://127.0.0.1:9",
         "--key", "k", "--listen", "cot:udp:0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "interop.yaml line 3: icao.XYZ: 'XYZ' is not an ICAO" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_receiver_position_is_told_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "interop.yaml").write_text("party: a\nicao:\n  3C6444: ua\n")
    done = subprocess.run(
        [KEEPCLEAR, "interop", "run", "--mapping", str(tmp_path / "interop.yaml"), "--url", "http://127.0.0.1:9",
         "--key", "k", "--listen", "beast:tcp:0", "--receiver", "95,4"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--receiver" in done.stderr and "lat 95.0 is outside" in done.stderr
