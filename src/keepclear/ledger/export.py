"""Reading the ``Ledger`` out: its stored entries, and the versioned export a party verifies offline.

The export (docs/record.md, "Export file") is checkpointed first, so its last checkpoint covers its
last entry; a party's export holds a placeholder for each entry it may not read (``payload_readable``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from keepclear.ledger.heads import SignedHeads
from keepclear.ledger.model import Entry, placeholder_of, time_us_of
from keepclear.ledger.refs import indexable
from keepclear.ledger.rows import checkpoint_from_row, entry_from_row
from keepclear.ledger.spec import EXPORT_FORMAT, EXPORT_VERSION, KEY_ROTATED, payload_readable
from keepclear.store import ledger as store

#: Entries an export reads at a time.
EXPORT_CHUNK_ENTRIES = 4096
#: The fields of an export document in the order files have always had them (the text streamed puts
#: ``rotations`` after ``entries``: they are gathered from the entries).
_DOCUMENT_ORDER = ("format", "version", "exported_us", "for_party", "keys", "rotations", "entries", "checkpoints")


@dataclass(frozen=True, slots=True)
class ExportText:
    """The export document as JSON text, ``pieces`` to be taken once, in order (iterating it takes
    them), and how many ``entries`` it holds."""

    entries: int
    pieces: Iterator[str]

    def __iter__(self) -> Iterator[str]:
        return self.pieces


class Exports(SignedHeads):
    """``entries``, ``export_text`` and ``export_document``."""

    def entries(
        self,
        *,
        from_seq: int = 1,
        kinds_prefix: tuple[str, ...] = (),
        kinds: Collection[str] = (),
        from_s: float | None = None,
        until_s: float | None = None,
        refs: Collection[str] | None = None,
    ) -> list[Entry]:
        """Stored entries in seq order (with payloads), optionally filtered by kind (prefix or
        exact ``kinds``) and time; with ``refs`` (each ``refs.indexable``), only those whose
        payload names one of them at its top level (``refs.REF_KEYS``), read through their index."""
        if refs is not None and not all(indexable(ref) for ref in refs):
            raise ValueError("refs: each must be text of at most MAX_REF_CHARS characters without NUL")
        with self._db.read() as conn:
            rows = store.list_entries(
                conn,
                from_seq=from_seq,
                kinds_prefix=kinds_prefix,
                kinds=kinds,
                from_us=None if from_s is None else time_us_of(from_s),
                until_us=None if until_s is None else time_us_of(until_s),
                refs=refs,
            )
        return [entry_from_row(row) for row in rows]

    def export_document(self, *, for_party: str | None = None) -> dict[str, Any]:
        """A self-contained, versioned export: entries, public keys, rotations and checkpoints.

        The head is checkpointed first. With ``for_party``, an entry that party may not read
        (``payload_readable``: the audience rule) is a placeholder: its seq, prev and hash, which keep
        the chain and the tree whole without saying who did what with whom, or when. The document
        ``export_text`` writes, whole in memory, its fields in the order files had them (the API
        and the CLI write the text itself, streamed).
        """
        document: dict[str, Any] = json.loads("".join(self.export_text(for_party=for_party)))
        return {key: document[key] for key in _DOCUMENT_ORDER}  # rotations before entries, as ever

    def export_text(self, *, for_party: str | None = None) -> ExportText:
        """The export document as JSON text, in pieces (``ExportText``, which says how many entries it
        holds): the head is checkpointed, the keys and the
        last checkpoint read now (an outage is raised here, before any text); the entries, then the
        checkpoints, are read ``EXPORT_CHUNK_ENTRIES`` at a time as the pieces are taken, so an API
        process streaming the export of a record of millions of entries holds one chunk of them, not
        the record (nor its checkpoints: one every ``ledger_checkpoint_every_entries``)."""
        self.checkpoint()
        with self._db.read() as conn:
            last = store.last_checkpoint(conn)
            covered = last.seq if last is not None else 0
            keys = [k for k in store.list_keys(conn) if k.from_seq <= covered]
        head = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_us": time_us_of(self._clock.now_s()),
            "for_party": for_party,
            "keys": [
                {
                    "key_id": k.key_id,
                    "owner": k.owner,
                    "public_key": k.public_key,
                    "custodial": k.custodial,
                    "from_seq": k.from_seq,
                    "until_seq": k.until_seq if k.until_seq is not None and k.until_seq <= covered else None,
                }
                for k in keys
            ],
        }
        return ExportText(covered, self._export_pieces(head, covered, for_party))

    def _export_pieces(self, head: dict[str, Any], covered: int, for_party: str | None) -> Iterator[str]:
        yield _json(head)[:-1] + ',"entries":['
        rotations: list[dict[str, Any]] = []
        for start in range(1, covered + 1, EXPORT_CHUNK_ENTRIES):
            with self._db.read() as conn:
                rows = store.list_entries(
                    conn, from_seq=start, until_seq=min(covered, start + EXPORT_CHUNK_ENTRIES - 1)
                )
            out = []
            for row in rows:
                entry = entry_from_row(row)
                s = entry.statement
                out.append(
                    entry.to_json() if payload_readable(s, for_party) else placeholder_of(entry, row.hash).to_json()
                )
                if s.kind == KEY_ROTATED:
                    p = entry.payload_value()
                    rotations.append(
                        {
                            "seq": entry.seq,
                            "owner": p["owner"],
                            "old_key": p["old_key"],
                            "new_key": p["new_key"],
                            "reason": p["reason"],
                        }
                    )
            yield ("," if start > 1 else "") + ",".join(_json(e) for e in out)
        yield f'],"rotations":{_json(rotations)},"checkpoints":['
        after = 0
        while True:  # a chunk at a time too: one every hundred entries, a tenth of a megabyte per 100,000
            with self._db.read() as conn:
                rows = store.checkpoints_page(conn, after_seq=after, until_seq=covered, limit=EXPORT_CHUNK_ENTRIES)
            if not rows:
                break
            yield ("," if after else "") + ",".join(_json(checkpoint_from_row(row).to_json()) for row in rows)
            after = rows[-1].seq
        yield "]}"


def _json(value: Any) -> str:
    """``value`` as compact JSON text (as an HTTP JSON answer writes it)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
