"""Helpers of the console's browser tests: a real service, a TCP proxy that can drop connections,
Debian's chromium driven by Playwright, and pixel checks on screenshots."""

from __future__ import annotations

import base64
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from apisupport import Service, import_example_zones, populate

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer, free_port
from keepclear.domain.events import Clock
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


@contextmanager
def running_service(data_dir: Path, clock: Clock | None = None, **overrides: Any) -> Iterator[Service]:
    """A real keepclear server on 127.0.0.1 with parties a and b, their units, zones and keys
    (on the wall clock unless ``clock`` is given: a scenario's, say); ``overrides`` are settings."""
    settings = Settings(data_dir=data_dir, tick_s=0.2, **overrides)
    dep = Deployment.open(settings, clock=clock or WallClock(), create=True)
    keys = populate(dep)
    import_example_zones(dep)
    app = create_app(settings, deployment=dep)
    try:
        with ThreadedServer(app) as server:
            yield Service(server.url, dep, app.state.runtime, keys)
    finally:
        dep.close()


class DroppingProxy:
    """A TCP proxy in front of the server whose connections can all be cut, like a network drop."""

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port = target_port
        self.port = free_port(host)
        self.refusing = threading.Event()
        self._listener = socket.create_server((host, self.port))
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="console-proxy").start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing.is_set():
                client.close()
                continue
            upstream = socket.create_connection((self.host, self.target_port))
            with self._lock:
                if self._closed:  # closed while this connection was being made
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:  # either side gone: end the pair (the other pipe's thread then ends too)
            with self._lock:
                self._sockets -= {source, sink}
            for s in (source, sink):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def drop(self) -> None:
        """Cut every open connection (new ones are accepted unless ``refusing`` is set)."""
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.drop()


def shot(page: Any, name: str) -> bytes:
    """Save a screenshot of the page as test-artifacts/console/<name>.png and return its PNG bytes."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return bytes(page.screenshot(path=str(ARTIFACTS / f"{name}.png")))


def sign_in(page: Any, url: str, key: str) -> None:
    """Open the console and sign in with ``key``; waits until the state has loaded."""
    page.goto(url + "/")
    page.fill("#key", key)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("body[data-loaded=true]", timeout=30_000)
    page.wait_for_selector("body[data-live=live]", timeout=30_000)


def colour_counts(
    page: Any, png: bytes, clip: tuple[int, int, int, int], colours: dict[str, str], tol: int = 18
) -> dict[str, int]:
    """How many pixels of the screenshot ``png`` within ``clip`` (x, y, w, h) are near each colour.

    The PNG is decoded by the browser itself (an <img> drawn on a 2D canvas), so no imaging library
    is needed; what is counted is the screenshot, not the DOM.
    """
    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    script = """async ([url, clip, colours, tol]) => {
      const img = new Image(); img.src = url; await img.decode();
      const c = document.createElement('canvas'); c.width = clip[2]; c.height = clip[3];
      const g = c.getContext('2d'); g.drawImage(img, -clip[0], -clip[1]);
      const px = g.getImageData(0, 0, clip[2], clip[3]).data;
      const want = Object.entries(colours).map(([k, hex]) => [k, [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16))]);
      const out = Object.fromEntries(want.map(([k]) => [k, 0]));
      for (let i = 0; i < px.length; i += 4) {
        for (const [k, [r, gg, b]] of want) {
          if (Math.abs(px[i] - r) <= tol && Math.abs(px[i + 1] - gg) <= tol && Math.abs(px[i + 2] - b) <= tol) out[k]++;
        }
      }
      return out;
    }"""
    return dict(page.evaluate(script, [data_url, list(clip), colours, tol]))


def received(page: Any) -> list[dict[str, Any]]:
    """Every API body and stream event the page received so far."""
    return list(page.evaluate("() => window.keepclear.received"))


def ids_in(value: Any) -> set[str]:
    """Every string value found under a key naming a unit ('unit_id', or 'id' of a unit record)."""
    found: set[str] = set()

    def walk(v: Any, key: str = "") -> None:
        if isinstance(v, dict):
            for k, item in v.items():
                walk(item, k)
        elif isinstance(v, list):
            for item in v:
                walk(item, key)
        elif isinstance(v, str) and key in ("unit_id", "id", "callsign"):
            found.add(v)

    walk(value)
    return found


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def feed(
    service: Service, party: str, reports: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Post ``reports`` as ``party``'s feed and return the answer; like a real feed, wait and send again
    when the service sheds load (429 with Retry-After: its probe is behind on a busy test machine)."""
    with service.client(f"{party}-feed") as client:
        for _ in range(20):
            response = client.post("/v1/tracks", json={"reports": reports}, headers=headers or {})
            if response.status_code != 429:
                break
            time.sleep(min(float(response.headers.get("retry-after", "1")), 2.0))
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    assert not answer["refused"], response.text
    return answer
