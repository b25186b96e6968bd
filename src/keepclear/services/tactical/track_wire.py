"""Accepted track reports as messages by cell: what API processes send detector workers (issue 20).

A message is one JSON document of the reports of one cell (or of the wide units): ``{"v": 1,
"units": [...], "parties": [...], "domains": [...], "values": [[time_s, lat, lon, alt, ve, vn, vu],
...]}``, the judged columns as they leave the ingest queue. Its key (``message_key``) is a hash of
the bytes, so a publish retried after a lost acknowledgement is stored once.

**Subjects.** A report goes to the subject of the cell it lies in (``<prefix>.<cell>``), once; a
worker subscribes to the subjects of its own cells *and* of the cells within the halo
(``detect.cells.cells_in_view``), so the halo's copies are JetStream's deliveries, not more
publishes: the bus carries each report once whatever the number of workers. A report of a unit
faster than its domain's speed cap (``CellPlan.wide``, which no cell bound holds) goes to
``<prefix>.wide``, which every worker subscribes to and sorts out with the unit's own halo.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np

from keepclear.detect.cells import CellPlan
from keepclear.detect.minima import DOMAIN_CODES
from keepclear.domain import Domain
from keepclear.errors import Problem, ProblemCode, ValidationError
from keepclear.services.tactical.tracks import ReportColumns

#: The version of the message form this build writes and reads.
WIRE_VERSION = 1
#: The subject suffix of the wide units' reports.
WIDE = "wide"
#: Reports per message at most (NATS's default largest message is 1 MiB; ~110 bytes a report).
MAX_REPORTS_PER_MESSAGE = 4_000


def reports_to_json(batch: ReportColumns) -> bytes:
    """``batch`` (judged: with parties and domains) as one message."""
    return json.dumps(
        {
            "v": WIRE_VERSION,
            "units": batch.unit_ids,
            "parties": batch.party_ids,
            "domains": [str(d) for d in batch.domains],
            "values": batch.values.tolist(),
        },
        allow_nan=False,
        separators=(",", ":"),
    ).encode()


def reports_from_json(data: bytes) -> ReportColumns:
    """The reports of a message; ``ValidationError`` naming what is wrong with it."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError([Problem("reports", ProblemCode.INVALID, f"not JSON: {exc}")]) from None
    if not isinstance(doc, dict) or doc.get("v") != WIRE_VERSION:
        version = doc.get("v") if isinstance(doc, dict) else None
        raise ValidationError([Problem("v", ProblemCode.INVALID, f"{version!r}: this build reads {WIRE_VERSION}")])
    units, parties, domains, values = (doc.get(k) for k in ("units", "parties", "domains", "values"))
    problems = [
        Problem(name, ProblemCode.INVALID, "must be a list of strings")
        for name, column in (("units", units), ("parties", parties), ("domains", domains))
        if not isinstance(column, list) or not all(isinstance(x, str) for x in column)
    ]
    if problems:
        raise ValidationError(problems)
    assert isinstance(units, list) and isinstance(parties, list) and isinstance(domains, list)
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1, 7)
        typed = [Domain(d) for d in domains]
    except (ValueError, TypeError) as exc:
        raise ValidationError([Problem("values", ProblemCode.INVALID, str(exc))]) from None
    if not len(units) == len(parties) == len(domains) == array.shape[0]:
        raise ValidationError([Problem("values", ProblemCode.INVALID, "the columns differ in length")])
    return ReportColumns(units, array, parties, typed)


def message_key(data: bytes) -> str:
    """The message's id for JetStream's de-duplication: the same reports, the same id."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def split_by_cell(plan: CellPlan, batch: ReportColumns) -> dict[str, list[ReportColumns]]:
    """``batch``'s reports by subject suffix (a cell's number, or ``WIDE``), in their order, in
    messages of at most ``MAX_REPORTS_PER_MESSAGE``."""
    if not len(batch):
        return {}
    v = batch.values
    cells = plan.grid.cell_of(v[:, 1], v[:, 2])
    caps = plan.caps.by_code()
    cap = np.array([caps[DOMAIN_CODES[d]] if d in DOMAIN_CODES else -math.inf for d in batch.domains])
    wide = np.hypot(v[:, 4], v[:, 5]) > cap
    keys = np.where(wide, -1, cells)
    out: dict[str, list[ReportColumns]] = {}
    for key in np.unique(keys).tolist():
        rows = np.flatnonzero(keys == key).tolist()
        suffix = WIDE if key < 0 else str(key)
        for start in range(0, len(rows), MAX_REPORTS_PER_MESSAGE):
            part = rows[start : start + MAX_REPORTS_PER_MESSAGE]
            out.setdefault(suffix, []).append(
                batch.take(part, [batch.party_ids[i] for i in part], [batch.domains[i] for i in part])
            )
    return out
