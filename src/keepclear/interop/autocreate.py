"""Auto-created units (off by default): an id a party's feed reports that its mapping does not name
becomes a new unit of the party's force (``POST /v1/units``) and is mapped from then on.

For a TAK network whose members come and go. It needs an admin key (creating units is the admin's),
so it is opt-in per mapping file (``auto_create: {force: f-a}``) and the key is given apart; the
units it creates are ``<kind>-<id>`` (``cot-android-5895...``, ``icao-3c6444``, ``mmsi-211234560``)
in the domain the format implies (CoT: from the event type when it names one, else land; ICAO: air;
MMSI: sea), with the id as callsign. A unit is created once; while it is being created the id's
positions count as unmapped.
"""

from __future__ import annotations

import re
import threading

import httpx

from keepclear.interop.mapping import IdKind, Mapping
from keepclear.interop.observation import Observation, Stats, log

_DOMAIN = {IdKind.ICAO: "air", IdKind.MMSI: "sea", IdKind.COT: "land"}
_UNSAFE = re.compile(r"[^a-z0-9_.-]+")


def unit_id_for(kind: IdKind, external_id: str) -> str:
    """The keepclear id of an auto-created unit: lower-case, unsafe characters as '-', at most 64."""
    return f"{kind.value}-{_UNSAFE.sub('-', external_id.lower())}".strip("-")[:64]


class UnitCreator:
    """Creates a unit for each unmapped id once (on a thread of its own), then maps it."""

    def __init__(self, url: str, admin_key: str, mapping: Mapping, force_id: str, stats: Stats) -> None:
        self.url = url.rstrip("/")
        self.key = admin_key
        self.mapping = mapping
        self.force_id = force_id
        self.stats = stats
        self._lock = threading.Lock()
        self._asked: set[tuple[IdKind, str]] = set()
        self._threads: list[threading.Thread] = []

    def on_unmapped(self, observation: Observation) -> None:
        key = (observation.kind, observation.external_id)
        with self._lock:
            if key in self._asked or len(self._asked) >= 10_000:
                return
            self._asked.add(key)
        domain = observation.domain or _DOMAIN[observation.kind]
        worker = threading.Thread(target=self._create, args=(*key, domain), name="interop-autocreate", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [worker]
        worker.start()

    def _create(self, kind: IdKind, external_id: str, domain: str) -> None:
        unit_id = unit_id_for(kind, external_id)
        body = {"id": unit_id, "callsign": external_id[:64], "domain": domain, "force_id": self.force_id}
        try:
            response = httpx.post(
                f"{self.url}/v1/units", json=body, headers={"Authorization": f"Bearer {self.key}"}, timeout=10.0
            )
        except httpx.HTTPError as exc:
            self.stats.bad_input("units_refused", f"creating unit {unit_id} failed: {exc}")
            return
        if response.status_code not in (201, 409):  # 409: it exists already (a restart): map it all the same
            self.stats.bad_input(
                "units_refused", f"keepclear refused unit {unit_id} ({response.status_code}): {response.text[:200]}"
            )
            return
        self.mapping.units.setdefault(kind, {})[external_id] = unit_id  # read by the gateway's thread: one dict store
        self.stats.add("units_created")
        log.info("interop: %s %s is now unit %s of force %s", kind.value, external_id, unit_id, self.force_id)

    def join(self, timeout_s: float = 10.0) -> None:
        for worker in list(self._threads):
            worker.join(timeout_s)
