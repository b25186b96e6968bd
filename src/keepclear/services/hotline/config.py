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

    Escalation bounds (each step is a system message in the recipient's thread, so a party asking
    acknowledgements could otherwise flood the others' threads at its post rate times their roster):
    ``min_ack_within_s`` the shortest window a party's post may ask (``hotline_min_ack_within_s``),
    ``min_escalation_step_s`` the least spacing of two steps of one request
    (``hotline_escalation_min_step_s``), ``max_ack_requests_per_party`` the requests one party may have
    outstanding towards others (``max_hotline_ack_requests_per_party``).
    """

    escalation_step_s: float | None = None
    max_thread_parties: int = 16
    alert_summary_over: int = 20
    limits: InputLimits = DEFAULT_LIMITS
    max_cached_threads: int = 10_000
    max_threads_per_party: int = 10_000
    min_ack_within_s: float = 60.0
    min_escalation_step_s: float = 60.0
    max_ack_requests_per_party: int = 200

    def escalation_spacing_s(self, ack_within_s: float) -> float:
        """Seconds between the escalation steps of a request asked with ``ack_within_s``: the deployment's
        step, else the window, never under ``min_escalation_step_s``.

        >>> HotlineConfig().escalation_spacing_s(0.5), HotlineConfig().escalation_spacing_s(300.0)
        (60.0, 300.0)
        """
        return max(self.escalation_step_s or ack_within_s, self.min_escalation_step_s)
