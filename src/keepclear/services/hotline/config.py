"""The hotline's tunables, shared by its parts (threads, posting, notices, escalation)."""

from __future__ import annotations

from dataclasses import dataclass

from keepclear.domain.limits import DEFAULT_LIMITS, InputLimits


@dataclass(frozen=True, slots=True)
class HotlineConfig:
    """Tunables of the hotline (defaults fit a liaison cell answering within minutes).

    ``escalation_step_s``: seconds between escalation steps once a deadline passed; None uses the
    message's own acknowledgement window. ``max_thread_parties``: the most parties one thread may have.
    ``alert_summary_over``: alert changes between one pair of parties in one delivery above which the
    pair's thread gets one summary message instead of one message each. ``limits``: what a draft's
    text and data must keep to. ``max_cached_threads``: threads kept in memory, the most recently
    used (one not kept is read from the store again). ``max_threads_per_party``: threads one party
    may open (``max_hotline_threads_per_party``; standing threads are keepclear's and do not count).
    """

    escalation_step_s: float | None = None
    max_thread_parties: int = 16
    alert_summary_over: int = 20
    limits: InputLimits = DEFAULT_LIMITS
    max_cached_threads: int = 10_000
    max_threads_per_party: int = 10_000
