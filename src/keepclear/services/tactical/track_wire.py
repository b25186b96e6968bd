"""Accepted track reports as messages by cell: what API processes send detector workers (issue 20).

A message holds the reports of one cell (or of the wide units), the judged columns as they leave
the ingest queue. This build writes the binary form 2 (``reports_to_bytes``): ``b"KCT\\x02"``, then
three little-endian uint32 (the reports ``n``, the bytes of the head, of the unit ids), then the
values as ``n`` × 7 float64 (time_s, lat, lon, alt, ve, vn, vu, as ``ReportColumns.values``), a
uint16 party code and a uint8 domain code a report, the head (JSON: ``{"parties": [...],
"domains": [...]}``, the distinct names the codes index) and the unit ids, UTF-8, one per line.
About 64 bytes a report against the JSON form 1's ~118, and read with a few array operations
instead of a JSON parse of every number: the workers and every API process read each message. It
reads form 1 too (``{"v": 1, "units": [...], "parties": [...], "domains": [...], "values":
[[time_s, lat, lon, alt, ve, vn, vu], ...]}``, ``reports_to_json``), which an earlier build wrote:
a stream keeps reports for minutes across an upgrade. A message's key (``message_key``) is a hash
of its bytes, so a publish retried after a lost acknowledgement is stored once.

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
import struct

import numpy as np

from keepclear.detect.cells import CellPlan
from keepclear.detect.minima import DOMAIN_CODES
from keepclear.domain import Domain
from keepclear.errors import Problem, ProblemCode, ValidationError
from keepclear.services.tactical.tracks import ReportColumns

#: The JSON form (1), which this build reads, and the binary form (2) it writes and reads.
WIRE_VERSION = 1
BINARY_VERSION = 2
#: What a binary message begins with (a JSON one begins with ``{``).
BINARY_MAGIC = b"KCT" + bytes([BINARY_VERSION])
#: The reports, the head's bytes and the unit ids' bytes, after the magic.
_BINARY_COUNTS = struct.Struct("<III")
_BINARY_START = len(BINARY_MAGIC) + _BINARY_COUNTS.size
#: Bytes a report takes in the fixed-width part: seven float64, a uint16 party, a uint8 domain.
_ROW_BYTES = 7 * 8 + 2 + 1
_DOMAINS = {d.value: d for d in Domain}
#: The subject suffix of the wide units' reports.
WIDE = "wide"
#: Reports per message at most (NATS's default largest message is 1 MiB; ~64 bytes a report, ~118 in JSON).
MAX_REPORTS_PER_MESSAGE = 4_000


def reports_to_json(batch: ReportColumns) -> bytes:
    """``batch`` (judged: with parties and domains) as one message of the JSON form, which earlier
    builds wrote (this one writes ``reports_to_bytes``)."""
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


def reports_to_bytes(batch: ReportColumns) -> bytes:
    """``batch`` (judged: with parties and domains) as one message of the binary form (module docstring).

    >>> from keepclear.domain import Domain
    >>> batch = ReportColumns(["u1"], np.zeros((1, 7)), ["a"], [Domain.AIR])
    >>> reports_from_bytes(reports_to_bytes(batch)).unit_ids
    ['u1']
    """
    n = len(batch)
    units = "\n".join(batch.unit_ids)
    if units.count("\n") != max(0, n - 1):
        raise ValueError("unit ids: one holds a line break (registry ids never do)")
    parties = {p: k for k, p in enumerate(dict.fromkeys(batch.party_ids))}
    if len(parties) > 0xFFFF:
        raise ValueError(f"party ids: {len(parties)} in one message, at most 65,535")
    domains = {d: k for k, d in enumerate(dict.fromkeys(batch.domains))}
    head = json.dumps({"parties": list(parties), "domains": [str(d) for d in domains]}, separators=(",", ":"))
    head_bytes, unit_bytes = head.encode(), units.encode()
    return b"".join(
        (
            BINARY_MAGIC,
            _BINARY_COUNTS.pack(n, len(head_bytes), len(unit_bytes)),
            np.ascontiguousarray(batch.values, dtype="<f8").tobytes(),
            np.fromiter(map(parties.__getitem__, batch.party_ids), dtype="<u2", count=n).tobytes(),
            np.fromiter(map(domains.__getitem__, batch.domains), dtype=np.uint8, count=n).tobytes(),
            head_bytes,
            unit_bytes,
        )
    )


def reports_from_bytes(data: bytes) -> ReportColumns:
    """The reports of a message of either form; ``ValidationError`` naming what is wrong with it."""
    if data[: len(BINARY_MAGIC)] == BINARY_MAGIC:
        return _from_binary(data)
    return reports_from_json(data)


def _from_binary(data: bytes) -> ReportColumns:
    if len(data) < _BINARY_START:
        raise ValidationError([Problem("reports", ProblemCode.INVALID, "shorter than a message's counts")])
    n, head_len, units_len = _BINARY_COUNTS.unpack_from(data, len(BINARY_MAGIC))
    if len(data) != _BINARY_START + n * _ROW_BYTES + head_len + units_len:
        raise ValidationError([Problem("reports", ProblemCode.INVALID, f"{len(data)} bytes do not hold {n} reports")])
    at = _BINARY_START
    values = np.frombuffer(data, dtype="<f8", count=7 * n, offset=at).reshape(n, 7).astype(np.float64)
    at += 56 * n
    party_codes = np.frombuffer(data, dtype="<u2", count=n, offset=at)
    domain_codes = np.frombuffer(data, dtype=np.uint8, count=n, offset=at + 2 * n)
    at += 3 * n
    try:
        head = json.loads(data[at : at + head_len])
        units = data[at + head_len :].decode().split("\n") if n else []
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError([Problem("head", ProblemCode.INVALID, f"does not read: {exc}")]) from None
    names = head.get("parties") if isinstance(head, dict) else None
    kinds = head.get("domains") if isinstance(head, dict) else None
    problems = [
        Problem(name, ProblemCode.INVALID, "must be a list of strings")
        for name, column in (("parties", names), ("domains", kinds))
        if not isinstance(column, list) or not all(isinstance(x, str) for x in column)
    ]
    if problems:
        raise ValidationError(problems)
    assert isinstance(names, list) and isinstance(kinds, list)
    if not set(kinds) <= _DOMAINS.keys():
        raise ValidationError([Problem("domains", ProblemCode.INVALID, f"{kinds!r}: not all are domains")])
    if len(units) != n:
        raise ValidationError([Problem("units", ProblemCode.INVALID, f"{len(units)} unit ids for {n} reports")])
    if n and (int(party_codes.max()) >= len(names) or int(domain_codes.max()) >= len(kinds)):
        raise ValidationError([Problem("head", ProblemCode.INVALID, "a party or domain code names nothing")])
    typed = [_DOMAINS[d] for d in kinds]
    party_ids = list(map(names.__getitem__, party_codes.tolist()))
    domains = list(map(typed.__getitem__, domain_codes.tolist()))
    return ReportColumns(units, values, party_ids, domains)


def reports_from_json(data: bytes) -> ReportColumns:
    """The reports of a message of the JSON form; ``ValidationError`` naming what is wrong with it."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError([Problem("reports", ProblemCode.INVALID, f"not JSON: {exc}")]) from None
    if not isinstance(doc, dict) or doc.get("v") != WIRE_VERSION:
        version = doc.get("v") if isinstance(doc, dict) else None
        raise ValidationError(
            [
                Problem(
                    "v",
                    ProblemCode.INVALID,
                    f"{version!r}: this build reads {WIRE_VERSION} (JSON) and {BINARY_VERSION}",
                )
            ]
        )
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
