"""Each event kind is recorded or not on purpose: in ``RECORDED_KINDS`` or in ``NOT_RECORDED`` with a reason."""

from __future__ import annotations

from keepclear.domain.event_kinds import EventKind
from keepclear.services.record.kinds import IN_MEMORY_KINDS, NOT_RECORDED, RECORDED_KINDS
from keepclear.services.record.staging import recorded


def test_every_kind_is_either_recorded_or_listed_with_a_reason() -> None:
    undecided = set(EventKind) - RECORDED_KINDS - NOT_RECORDED.keys()
    assert not undecided, f"add each to RECORDED_KINDS or NOT_RECORDED (with the reason): {sorted(undecided)}"
    assert not RECORDED_KINDS & NOT_RECORDED.keys()
    assert all(reason.strip() for reason in NOT_RECORDED.values())


def test_in_memory_kinds_are_recorded_kinds() -> None:
    assert IN_MEMORY_KINDS <= RECORDED_KINDS


def test_the_record_keeps_what_it_kept_by_prefix_before_the_list() -> None:
    # the prefixes of the record before the explicit list, less the ledger's own public key entries
    prefixes = ("activity.", "message.", "thread.", "alert.", "hotline.", "party.", "force.", "unit.", "zones.")
    prefixes += ("apikey.", "incident.", "key.", "proposal.")  # proposals came after the list, recorded
    ledger_own = {EventKind.LEDGER_GENESIS, EventKind.KEY_REGISTERED, EventKind.KEY_ROTATED}
    bus_only = {EventKind.MESSAGE_REFERENCED}  # a timeline item that never reaches the bus
    for kind in set(EventKind) - bus_only:
        assert recorded(kind) == (kind.startswith(prefixes) and kind not in ledger_own), kind


def test_kinds_outside_the_enum_are_not_recorded() -> None:
    assert not recorded("test.happened")
    assert not recorded("zone.added")
