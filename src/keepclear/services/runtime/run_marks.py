"""Which share and run of the detector workers raised an alert, where no party can read it.

An alert id reaches both parties of the alert (their streams, ``/v1/alerts``, the record, incidents),
so it is ``alert-`` and 80 random bits in every deployment, as an embedded probe's (``AlertBook``):
a share's name in it would tell a party which part of the world, and how the deployment is cut into
workers, raised it; a run's, when a worker restarted. Each share draws its own bits from the
operating system, so two ids of the deployment repeat with a chance of n²/2⁸¹ over n ids (below
10⁻⁶ for 10⁹ alerts, shares together).

A worker still needs to know it: a share starting (a restart, an adoption, a hand-back) resolves the
alerts still active that its earlier runs raised, as their book died with them
(``detect_worker``). So every alert event a share emits carries its run mark, ``<share>/<run>``
(``run_mark``; the run 64 random bits drawn at its start), as ``Event.emitted_by``: never in the
payload, the event's id or its wire document, it crosses processes as the ``Keepclear-Emitted-By``
header of the bus message (``nats_bus``). JetStream stores a header with its message, so a
redelivery, an event heard late and the stream read back at a share's start
(``nats_tracks.recent_alert_events``) all carry it; the API processes hand parties the documents'
payloads, and the record and incidents keep those, so nothing a party reads carries the mark.

The other way weighed: a tag in the id that only the workers recognise (an HMAC of the share under a
secret they share, looking like random bits to a party). The deployment has no such secret: one more
would have to be made, kept and rotated, and every id in the record, which parties keep forever, would
be bound to it: were it ever lost, every past alert would name its share. A header puts nothing in
what a party holds.

Alerts of the shape workers gave before (``alert-<share>-<run>-<random>``), heard from an earlier
run after an upgrade, have no mark: ``raised_by`` still reads their id, so none is left active
forever.
"""

from __future__ import annotations

from keepclear.domain.events import Event

__all__ = ["raised_by", "raised_earlier", "run_mark", "share_run_of"]

_HEX = frozenset("0123456789abcdef")


def run_mark(share: str, run: str) -> str:
    """The mark of run ``run`` of ``share`` on the alert events it emits (``Event.emitted_by``, a bus
    header: never shown to a party): ``<share>/<run>``.

    >>> run_mark("w0of2-1of3", "5d2c90aa0c4f1e9b")
    'w0of2-1of3/5d2c90aa0c4f1e9b'
    """
    return f"{share}/{run}"


def share_run_of(mark: str) -> tuple[str, str] | None:
    """The share and run of a run mark (``run_mark``), or None for anything else: a share name (no
    slash: ``detect_shares.worker_name_problem``), a slash, a run of lower-case hex digits.

    >>> share_run_of("w0of2-1of3/5d2c90aa0c4f1e9b")
    ('w0of2-1of3', '5d2c90aa0c4f1e9b')
    >>> share_run_of("w0of2") is None
    True
    """
    share, slash, run = mark.partition("/")
    if not slash or not share or not run or not set(run) <= _HEX:
        return None
    return share, run


def raised_by(alert_id: str) -> tuple[str, str] | None:
    """The share and run that raised ``alert_id`` when it has the shape workers gave alert ids before
    they were all ``alert-<random>`` (``alert-<share>-<run>-<random>``), or None for an id of another
    shape (``alert-<random>``, every id now). Kept to resolve such alerts an earlier run left active
    (a worker starting after the upgrade); workers no longer make them.

    >>> raised_by("alert-w0of2-1of3-5d2c90aa-0c4f1e9b27d3a86f51e2")
    ('w0of2-1of3', '5d2c90aa')
    >>> raised_by("alert-0c4f1e9b27d3a86f51e2") is None
    True
    """
    head, _, _ = alert_id.rpartition("-")
    owner, _, run = head.rpartition("-")
    if not owner.startswith("alert-") or len(owner) == len("alert-") or not run:
        return None
    return owner[len("alert-") :], run


def raised_earlier(event: Event, share: str, run: str) -> bool:
    """Whether alert event ``event`` is of an alert an earlier run of ``share`` raised (another run
    than ``run``): by the run mark it carries (``Event.emitted_by``), or, without one, by an alert id
    of the old shape (``raised_by``: an alert of a run before the upgrade).

    >>> from keepclear.domain.event_kinds import EventKind
    >>> payload = {"alert_id": "alert-0c4f1e9b27d3a86f51e2"}
    >>> marked = Event(EventKind.ALERT_RAISED, 0.0, None, payload, emitted_by="w0of2/5d2c90aa0c4f1e9b")
    >>> raised_earlier(marked, "w0of2", "77e0a1b2c3d4e5f6"), raised_earlier(marked, "w0of2", "5d2c90aa0c4f1e9b")
    (True, False)
    >>> raised_earlier(Event(EventKind.ALERT_RAISED, 0.0, None, payload), "w0of2", "77e0a1b2c3d4e5f6")
    False
    >>> old = {"alert_id": "alert-w0of2-5d2c90aa-0c4f1e9b27d3a86f51e2"}  # before the upgrade: no mark
    >>> raised_earlier(Event(EventKind.ALERT_RAISED, 0.0, None, old), "w0of2", "77e0a1b2c3d4e5f6")
    True
    """
    if event.emitted_by is not None:
        by = share_run_of(event.emitted_by)
    else:
        alert_id = event.payload.get("alert_id")
        by = raised_by(alert_id) if isinstance(alert_id, str) else None
    return by is not None and by[0] == share and by[1] != run
